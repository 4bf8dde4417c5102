// An independent check of Cairn's Elasticsearch test server: Elastic's own
// JavaScript client (@elastic/elasticsearch) drives it the way applications
// drive Elasticsearch, and every answer is compared with what Elasticsearch
// documents.  Exits non-zero at the first mismatch.
//
//   node check.js URL            e.g. http://127.0.0.1:22010
//   ES_USER/ES_PASSWORD or ES_API_KEY   credentials, when the server wants them
//   ES_AUTH_CHECK=1              also check that bad credentials get a 401

'use strict'

const assert = require('node:assert/strict')
const { Client, errors } = require('@elastic/elasticsearch')

const url = process.argv[2]
if (!url) {
  console.error('usage: node check.js URL')
  process.exit(2)
}

function auth () {
  if (process.env.ES_API_KEY) return { apiKey: process.env.ES_API_KEY }
  if (process.env.ES_USER) return { username: process.env.ES_USER, password: process.env.ES_PASSWORD || '' }
  return undefined
}

const client = new Client({ node: url, auth: auth(), maxRetries: 0, requestTimeout: 20000 })
let steps = 0

function ok (what) {
  steps++
  console.log('ok ' + steps + ' - ' + what)
}

async function expectError (promise, status, type) {
  try {
    await promise
  } catch (e) {
    assert.ok(e instanceof errors.ResponseError, 'expected a ResponseError, got ' + e)
    assert.equal(e.meta.statusCode, status)
    if (type) assert.equal(e.meta.body.error.type, type)
    return e
  }
  assert.fail('expected HTTP ' + status + ' ' + (type || ''))
}

async function main () {
  const index = 'cairn_check_flows'
  const other = 'cairn_check_other'

  const info = await client.info()
  assert.equal(info.version.build_flavor, 'default')
  assert.match(info.version.number, /^8\./)
  ok('info: ' + info.version.number)

  for (const i of [index, other]) {
    if (await client.indices.exists({ index: i })) await client.indices.delete({ index: i })
  }
  assert.equal(await client.indices.exists({ index }), false)

  const created = await client.indices.create({
    index,
    settings: { number_of_shards: 1, number_of_replicas: 0 },
    mappings: {
      dynamic: false,
      properties: {
        tenantId: { type: 'keyword' },
        namespace: { type: 'keyword' },
        id: { type: 'keyword' },
        revision: { type: 'integer' },
        deleted: { type: 'boolean' },
        updated: { type: 'date' }
      }
    }
  })
  assert.deepEqual(created, { acknowledged: true, shards_acknowledged: true, index })
  assert.equal(await client.indices.exists({ index }), true)
  ok('indices.create with a dynamic:false mapping')

  const again = await expectError(client.indices.create({ index }), 400, 'resource_already_exists_exception')
  assert.equal(again.meta.body.error.index, index)
  ok('indices.create again -> 400 resource_already_exists_exception')

  const mapping = await client.indices.getMapping({ index })
  assert.equal(mapping[index].mappings.dynamic, 'false')
  assert.equal(mapping[index].mappings.properties.tenantId.type, 'keyword')
  ok('indices.getMapping returns the mapping given at create time')

  // One document through the index API, with a refresh.
  const doc0 = { tenantId: 'main', namespace: 'company.team', id: 'flow-0', revision: 1, deleted: false, updated: '2024-05-01T10:00:00.000Z', source: 'id: flow-0\nnamespace: company.team\n', unmapped: { nested: [1, 2.5, 'x'] } }
  const put = await client.index({ index, id: 'main_company.team_flow-0', document: doc0, refresh: true })
  assert.equal(put.result, 'created')
  assert.equal(put._version, 1)
  assert.equal(put.forced_refresh, true)
  const createAgain = await expectError(client.index({ index, id: 'main_company.team_flow-0', document: doc0, op_type: 'create' }), 409, 'version_conflict_engine_exception')
  assert.match(createAgain.meta.body.error.reason, /document already exists/)
  ok('index (refresh=true) and op_type=create conflict')

  // Bulk: 250 documents over two tenants plus a deliberate bad item.
  const operations = []
  for (let i = 1; i <= 250; i++) {
    const tenant = i % 5 === 0 ? 'other' : 'main'
    operations.push({ index: { _index: index, _id: tenant + '_company.team_flow-' + i } })
    operations.push({ tenantId: tenant, namespace: 'company.team', id: 'flow-' + i, revision: i % 3 + 1, deleted: false, updated: '2024-05-01T10:00:00.000Z', source: 'id: flow-' + i })
  }
  operations.push({ create: { _index: index, _id: 'main_company.team_flow-1' } })
  operations.push({ tenantId: 'main', id: 'dup' })
  const bulk = await client.bulk({ operations, refresh: true })
  assert.equal(bulk.errors, true)
  assert.equal(bulk.items.length, 251)
  assert.equal(bulk.items[0].index.status, 201)
  assert.equal(bulk.items[250].create.status, 409)
  assert.equal(bulk.items[250].create.error.type, 'version_conflict_engine_exception')
  ok('bulk: 250 created, one create conflict reported per item')

  const helper = await client.helpers.bulk({
    datasource: [{ id: 'h1', tenantId: 'main' }, { id: 'h2', tenantId: 'main' }],
    onDocument: (d) => ({ index: { _index: other, _id: d.id } }),
    refreshOnCompletion: true
  })
  assert.equal(helper.successful, 2)
  assert.equal(helper.failed, 0)
  ok('helpers.bulk into an auto-created index')

  const cat = await client.cat.indices({ index: 'cairn_check_*', format: 'json' })
  const names = cat.map(r => r.index).sort()
  assert.deepEqual(names, [index, other])
  const row = cat.find(r => r.index === index)
  assert.equal(row['docs.count'], '251')
  assert.equal(row.health, 'green')
  ok('cat.indices format=json')

  assert.equal((await client.count({ index })).count, 251)
  assert.equal((await client.count({ index, query: { term: { tenantId: 'other' } } })).count, 50)
  // dynamic:false: unmapped fields are kept in _source but not searchable.
  assert.equal((await client.count({ index, query: { term: { source: 'id: flow-1' } } })).count, 0)
  ok('count: all, by tenant, and nothing on an unmapped field')

  // A point in time, then writes that it must not see.
  const pit = await client.openPointInTime({ index, keep_alive: '1m' })
  assert.ok(pit.id)
  await client.bulk({
    refresh: true,
    operations: [
      { index: { _index: index, _id: 'main_company.team_late' } }, { tenantId: 'main', id: 'late' },
      { delete: { _index: index, _id: 'main_company.team_flow-1' } },
      { update: { _index: index, _id: 'main_company.team_flow-2' } }, { doc: { revision: 99 } }
    ]
  })
  assert.equal((await client.count({ index })).count, 251)

  const seen = new Map()
  let after
  let pages = 0
  let pitId = pit.id
  for (;;) {
    const page = await client.search({
      pit: { id: pitId, keep_alive: '1m' },
      size: 40,
      sort: [{ _shard_doc: 'asc' }],
      query: { bool: { filter: [{ term: { tenantId: 'main' } }] } },
      track_total_hits: pages === 0,
      ...(after ? { search_after: after } : {})
    })
    pitId = page.pit_id || pitId
    if (pages === 0) assert.deepEqual(page.hits.total, { value: 201, relation: 'eq' })
    else assert.equal(page.hits.total, undefined)
    if (page.hits.hits.length === 0) break
    for (const h of page.hits.hits) {
      assert.equal(h._index, index)
      assert.equal(h.sort.length, 1)
      assert.ok(!seen.has(h._id), 'duplicate hit ' + h._id)
      seen.set(h._id, h._source)
    }
    after = page.hits.hits[page.hits.hits.length - 1].sort
    pages++
    assert.ok(pages < 20, 'paging does not end')
  }
  assert.equal(seen.size, 201)
  assert.equal(pages, 6)
  assert.ok(seen.has('main_company.team_flow-1'), 'the PIT lost a document deleted after it opened')
  assert.ok(!seen.has('main_company.team_late'), 'the PIT sees a document indexed after it opened')
  assert.notEqual(seen.get('main_company.team_flow-2').revision, 99, 'the PIT sees a later update')
  assert.deepEqual(seen.get('main_company.team_flow-0'), doc0, '_source differs from what was indexed')
  ok('PIT + search_after on _shard_doc: 201 hits in 6 pages, a consistent snapshot')

  const closed = await client.closePointInTime({ id: pitId })
  assert.deepEqual(closed, { succeeded: true, num_freed: 1 })
  const gone = await expectError(client.search({ pit: { id: pitId }, size: 1 }), 404)
  assert.match(JSON.stringify(gone.meta.body), /search_context_missing_exception/)
  ok('closePointInTime, then the PIT is gone (404 search_context_missing_exception)')

  const shardDocNoPit = await expectError(client.search({ index, sort: ['_shard_doc'] }), 400)
  assert.match(JSON.stringify(shardDocNoPit.meta.body), /\[_shard_doc\] sort field cannot be used without \[point in time\]/)
  ok('_shard_doc without a PIT is refused')

  const sorted = await client.search({ index, size: 3, sort: [{ revision: 'desc' }, { id: 'asc' }], query: { ids: { values: ['main_company.team_flow-2', 'main_company.team_flow-3', 'main_company.team_flow-4'] } } })
  assert.deepEqual(sorted.hits.hits.map(h => h._id), ['main_company.team_flow-2', 'main_company.team_flow-4', 'main_company.team_flow-3'])
  assert.deepEqual(sorted.hits.hits[0].sort, [99, 'flow-2'])
  ok('search sorted on fields, ids query')

  const dbq = await client.deleteByQuery({ index, query: { term: { tenantId: 'other' } }, refresh: true })
  assert.equal(dbq.deleted, 50)
  assert.equal(dbq.total, 50)
  assert.deepEqual(dbq.failures, [])
  assert.equal((await client.count({ index })).count, 201)
  assert.equal((await client.count({ index, query: { term: { tenantId: 'other' } } })).count, 0)
  ok('deleteByQuery removes one tenant')

  const got = await client.get({ index, id: 'main_company.team_flow-0' })
  assert.equal(got.found, true)
  assert.deepEqual(got._source, doc0)
  const missing = await expectError(client.get({ index, id: 'nope' }), 404)
  assert.equal(missing.meta.body.found, false)
  await expectError(client.get({ index: 'cairn_check_nope', id: 'x' }), 404, 'index_not_found_exception')
  const del = await client.delete({ index, id: 'main_company.team_flow-0', refresh: true })
  assert.equal(del.result, 'deleted')
  ok('get, missing doc, missing index, delete')

  // Fault injection (test-only endpoint): the next bulk item is rejected.
  await client.transport.request({ method: 'POST', path: '/_cairn_test/faults', body: { bulk_items: 1 } })
  const rejected = await client.bulk({ operations: [{ index: { _index: other, _id: 'r1' } }, { a: 1 }, { index: { _index: other, _id: 'r2' } }, { a: 2 }] })
  assert.equal(rejected.errors, true)
  assert.equal(rejected.items[0].index.status, 429)
  assert.equal(rejected.items[0].index.error.type, 'es_rejected_execution_exception')
  assert.equal(rejected.items[1].index.status, 201)
  const stats = await client.transport.request({ method: 'GET', path: '/_cairn_test/stats' })
  assert.equal(stats.open_pits, 0)
  ok('fault injection: a rejected bulk item (429), and no PIT left open')

  if (process.env.ES_AUTH_CHECK) {
    const bad = new Client({ node: url, auth: { username: 'elastic', password: 'wrong' }, maxRetries: 0 })
    const e = await expectError(bad.info(), 401, 'security_exception')
    assert.match(e.meta.body.error.reason, /unable to authenticate user \[elastic\]/)
    assert.ok(String(e.meta.headers['www-authenticate']).includes('Basic realm="security"'))
    const none = new Client({ node: url, maxRetries: 0 })
    const e2 = await expectError(none.info(), 401, 'security_exception')
    assert.match(e2.meta.body.error.reason, /missing authentication credentials/)
    ok('authentication: wrong and missing credentials get 401 security_exception')
  }

  for (const i of [index, other]) await client.indices.delete({ index: i })
  console.log('es-client-check: all ' + steps + ' checks passed')
}

main().catch((e) => {
  console.error('es-client-check: FAILED: ' + (e && e.stack ? e.stack : e))
  if (e && e.meta && e.meta.body) console.error(JSON.stringify(e.meta.body))
  process.exit(1)
})
