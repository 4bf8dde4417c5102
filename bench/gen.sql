-- Cairn benchmark data set: a large, realistic Kestra metadata set.
--
--   psql -v ON_ERROR_STOP=1 -v n=100000 -d DB -f bench/gen.sql
--
-- Load into a database that already has the Kestra schema
-- (tests/fixtures/kestra-postgres.sql). :n is the number of FLOW ROWS
-- (n/4 flows with 4 revisions each); everything else scales from it:
--   flows                    n rows, value ~2-5 KB JSONB, source_code ~2-4 KB YAML
--   triggers                 n/2
--   kv_metadata              n/4
--   namespace_file_metadata  n/4
--   dashboards               n/100 (at least 4)
--   users                    n/100 (at least 10), tenant_access and bindings 1 per user
--   roles                    4 per tenant, groups 2 per tenant, namespaces 50 per tenant
--   settings, tenants        a handful (instance level)
-- Four tenants: main, acme, beta, gamma. Keys follow Kestra (/work/shared/KESTRA.md):
-- flow tenant_namespace_id_revision, trigger tenant_namespace_flowId_triggerId.
-- Deterministic: the same n gives the same rows (md5 of the row number, no random()).

SET client_min_messages = warning;
\if :{?n}
\else
\set n 10000
\endif

BEGIN;

INSERT INTO tenants (key, value)
SELECT t, jsonb_build_object('id', t, 'name', initcap(t) || ' tenant', 'deleted', false,
                             'workerGroup', jsonb_build_object('key', t || '-workers'))
FROM unnest(ARRAY['main', 'acme', 'beta', 'gamma']) AS t;

INSERT INTO settings (key, value) VALUES
('instance.uuid', '{"key":"instance.uuid","value":"4nAqvxNSVmMUPkyVnTj1hB"}'),
('instance.version', '{"key":"instance.version","value":"1.0.4"}'),
('instance.edition', '{"key":"instance.edition","value":"EE"}'),
('instance.first-start', '{"key":"instance.first-start","value":"2023-01-10T09:00:00Z"}');

-- A flow row: f = flow number, r = revision 1..4. Tenant, namespace and task count
-- are derived from f; the md5s make texts differ between rows (realistic compression).
CREATE TEMP TABLE bench_flow AS
SELECT g,
       (g - 1) / 4 AS f,
       (g - 1) % 4 + 1 AS r,
       (ARRAY['main', 'acme', 'beta', 'gamma'])[((g - 1) / 4) % 4 + 1] AS tenant,
       'company.team' || (((g - 1) / 4) % 50) || '.' ||
           (ARRAY['etl', 'reporting', 'ml', 'ops', 'sales'])[((g - 1) / 4) % 5 + 1] AS ns,
       'flow_' || ((g - 1) / 4) || '_' || substr(md5(((g - 1) / 4)::text), 1, 6) AS id,
       4 + ((g - 1) / 4) % 4 + (g - 1) % 4 AS ntasks,
       md5(g::text) AS h
FROM generate_series(1, :n) AS g;

INSERT INTO flows (key, value, source_code)
SELECT b.tenant || '_' || b.ns || '_' || b.id || '_' || b.r,
       jsonb_build_object(
           'id', b.id, 'namespace', b.ns, 'revision', b.r, 'tenantId', b.tenant,
           'disabled', b.f % 17 = 0, 'deleted', b.r = 4 AND b.f % 10 = 0,
           'description', 'Loads the ' || b.id || ' data set into the warehouse, revision ' || b.r ||
               ' (' || b.h || ')',
           'labels', jsonb_build_array(
               jsonb_build_object('key', 'team', 'value', 'team-' || b.f % 12),
               jsonb_build_object('key', 'env', 'value', (ARRAY['dev', 'staging', 'prod'])[b.f % 3 + 1]),
               jsonb_build_object('key', 'owner', 'value', 'user' || b.f % 97 || '@example.com')),
           'inputs', jsonb_build_array(
               jsonb_build_object('id', 'date', 'type', 'DATETIME', 'required', false,
                                  'defaults', '2025-01-01T00:00:00Z'),
               jsonb_build_object('id', 'limit', 'type', 'INT', 'required', false, 'defaults', b.f % 1000),
               jsonb_build_object('id', 'bucket', 'type', 'STRING', 'required', true,
                                  'description', 'target bucket ' || substr(b.h, 1, 8)),
               jsonb_build_object('id', 'dry', 'type', 'BOOLEAN', 'defaults', false)),
           'variables', jsonb_build_object('table', 'tbl_' || substr(b.h, 9, 10),
                                           'retention', b.f % 90, 'region', 'eu-west-' || b.f % 3),
           'tasks', (SELECT jsonb_agg(jsonb_build_object(
                         'id', 'task_' || k,
                         'type', (ARRAY['io.kestra.plugin.jdbc.postgresql.Query',
                                        'io.kestra.plugin.scripts.python.Script',
                                        'io.kestra.plugin.core.http.Request',
                                        'io.kestra.plugin.core.log.Log'])[k % 4 + 1],
                         'description', 'step ' || k || ' of ' || b.id,
                         'timeout', 'PT' || (k * 5) || 'M',
                         'retry', jsonb_build_object('type', 'constant', 'interval', 'PT30S',
                                                     'maxAttempt', k % 5 + 1),
                         'sql', 'SELECT * FROM {{ vars.table }} WHERE day = ''{{ inputs.date }}'' AND k = '
                                || k || ' LIMIT {{ inputs.limit }} -- ' || md5(b.h || k),
                         'outputFiles', jsonb_build_array('out_' || k || '.csv', 'log_' || k || '.txt')))
                     FROM generate_series(1, b.ntasks) AS k),
           'errors', jsonb_build_array(jsonb_build_object(
               'id', 'alert', 'type', 'io.kestra.plugin.notifications.slack.SlackIncomingWebhook',
               'url', '{{ secret(''SLACK_WEBHOOK'') }}',
               'payload', '{"text": "flow ' || b.id || ' failed"}')),
           'triggers', jsonb_build_array(jsonb_build_object(
               'id', 'schedule', 'type', 'io.kestra.plugin.core.trigger.Schedule',
               'cron', (b.f % 60) || ' ' || (b.f % 24) || ' * * *', 'timezone', 'Europe/Paris')),
           'pluginDefaults', jsonb_build_array(jsonb_build_object(
               'type', 'io.kestra.plugin.jdbc.postgresql', 'values',
               jsonb_build_object('url', 'jdbc:postgresql://db-' || b.f % 7 || ':5432/dwh',
                                  'username', 'etl'))),
           'concurrency', jsonb_build_object('limit', 1 + b.f % 3, 'behavior', 'QUEUE')),
       'id: ' || b.id || E'\nnamespace: ' || b.ns || E'\ndescription: Loads the ' || b.id ||
       ' data set into the warehouse, revision ' || b.r || ' (' || b.h || E')\n\nlabels:\n  team: team-' ||
       b.f % 12 || E'\n  env: ' || (ARRAY['dev', 'staging', 'prod'])[b.f % 3 + 1] ||
       E'\n  owner: user' || b.f % 97 || E'@example.com\n\ninputs:\n' ||
       E'  - id: date\n    type: DATETIME\n    defaults: "2025-01-01T00:00:00Z"\n' ||
       E'  - id: limit\n    type: INT\n    defaults: ' || b.f % 1000 ||
       E'\n  - id: bucket\n    type: STRING\n    required: true\n' ||
       E'  - id: dry\n    type: BOOLEAN\n    defaults: false\n\nvariables:\n  table: tbl_' ||
       substr(b.h, 9, 10) || E'\n  retention: ' || b.f % 90 || E'\n\ntasks:\n' ||
       (SELECT string_agg(
            '  - id: task_' || k || E'\n    type: ' ||
            (ARRAY['io.kestra.plugin.jdbc.postgresql.Query', 'io.kestra.plugin.scripts.python.Script',
                   'io.kestra.plugin.core.http.Request', 'io.kestra.plugin.core.log.Log'])[k % 4 + 1] ||
            E'\n    description: step ' || k || ' of ' || b.id ||
            E'\n    timeout: PT' || (k * 5) ||
            E'M\n    retry:\n      type: constant\n      interval: PT30S\n      maxAttempt: ' || k % 5 + 1 ||
            E'\n    sql: |\n      SELECT * FROM {{ vars.table }}\n      WHERE day = ''{{ inputs.date }}'' AND k = ' ||
            k || E'\n      LIMIT {{ inputs.limit }} -- ' || md5(b.h || k) || E'\n', '')
        FROM generate_series(1, b.ntasks) AS k) ||
       E'\nerrors:\n  - id: alert\n    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook\n' ||
       E'    url: "{{ secret(''SLACK_WEBHOOK'') }}"\n\ntriggers:\n  - id: schedule\n' ||
       E'    type: io.kestra.plugin.core.trigger.Schedule\n    cron: "' || (b.f % 60) || ' ' || (b.f % 24) ||
       E' * * *"\n    timezone: Europe/Paris\n'
FROM bench_flow AS b;

-- Triggers: n/2, one per flow and trigger id (two trigger ids per flow).
INSERT INTO triggers (key, value)
SELECT b.tenant || '_' || b.ns || '_' || b.id || '_' || tid,
       jsonb_build_object('tenantId', b.tenant, 'namespace', b.ns, 'flowId', b.id, 'triggerId', tid,
                          'date', '2025-10-01T09:00:00Z',
                          'nextExecutionDate', to_char(timestamp '2025-10-02 00:00:00' + (b.f % 1440) * interval '1 minute',
                                                       'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                          'disabled', b.f % 17 = 0,
                          'updatedDate', '2025-10-01T09:00:01.123Z',
                          'workerId', CASE WHEN b.f % 5 = 0 THEN 'worker-' || b.f % 8 END,
                          'executionId', CASE WHEN b.f % 7 = 0 THEN substr(b.h, 1, 22) END)
FROM bench_flow AS b, unnest(ARRAY['schedule', 'webhook']) AS tid
WHERE b.r = 1;

INSERT INTO kv_metadata (key, value, updated)
SELECT b.tenant || '_' || b.ns || '_key_' || b.f || '_1',
       jsonb_build_object('tenantId', b.tenant, 'namespace', b.ns, 'name', 'key_' || b.f,
                          'description', 'kv ' || substr(b.h, 1, 12), 'version', 1, 'last', true,
                          'deleted', false, 'created', '2025-05-01T10:00:00Z',
                          'updated', '2025-05-01T10:00:00Z'),
       timestamptz '2025-05-01 10:00:00+00' + b.f * interval '1 second'
FROM bench_flow AS b WHERE b.r = 1;

INSERT INTO namespace_file_metadata (key, value)
SELECT b.tenant || '_' || b.ns || '_/scripts/' || b.id || '.py_1',
       jsonb_build_object('tenantId', b.tenant, 'namespace', b.ns, 'path', '/scripts/' || b.id || '.py',
                          'parentPath', '/scripts/', 'version', 1, 'last', true,
                          'size', 100 + b.f % 50000, 'deleted', false,
                          'created', '2025-06-01T08:00:00Z', 'updated', '2025-06-01T08:00:00Z')
FROM bench_flow AS b WHERE b.r = 1;

INSERT INTO dashboards (key, value, source_code, created, updated)
SELECT t || '_dash_' || i,
       jsonb_build_object('id', 'dash_' || i, 'tenantId', t, 'title', 'Dashboard ' || i,
                          'description', 'Executions by state for team ' || i, 'deleted', false,
                          'charts', (SELECT jsonb_agg(jsonb_build_object(
                                         'id', 'chart_' || c,
                                         'type', 'io.kestra.plugin.core.dashboard.chart.Bar',
                                         'data', jsonb_build_object('type', 'io.kestra.plugin.core.dashboard.data.Executions',
                                                                    'columns', jsonb_build_object('state', jsonb_build_object('field', 'STATE')))))
                                     FROM generate_series(1, 6) AS c)),
       'id: dash_' || i || E'\ntitle: Dashboard ' || i || E'\ncharts:\n' ||
           repeat(E'  - id: chart\n    type: io.kestra.plugin.core.dashboard.chart.Bar\n', 6),
       timestamptz '2025-03-04 10:11:12.345678+00', timestamptz '2025-03-05 08:00:00.5+00'
FROM unnest(ARRAY['main', 'acme', 'beta', 'gamma']) AS t,
     generate_series(1, greatest(1, :n / 400)) AS i;

INSERT INTO namespaces (key, value)
SELECT t || '_company.team' || i, jsonb_build_object('tenantId', t, 'id', 'company.team' || i, 'deleted', false,
                                                    'description', 'namespace ' || i)
FROM unnest(ARRAY['main', 'acme', 'beta', 'gamma']) AS t, generate_series(0, 49) AS i;

INSERT INTO roles (key, value)
SELECT t || '_' || r, jsonb_build_object('tenantId', t, 'id', r, 'name', initcap(r), 'deleted', false,
                                         'permissions', jsonb_build_object(
                                             'FLOW', jsonb_build_array('CREATE', 'READ', 'UPDATE', 'DELETE'),
                                             'EXECUTION', jsonb_build_array('CREATE', 'READ'),
                                             'NAMESPACE', jsonb_build_array('READ')))
FROM unnest(ARRAY['main', 'acme', 'beta', 'gamma']) AS t,
     unnest(ARRAY['admin', 'developer', 'viewer', 'launcher']) AS r;

INSERT INTO groups (key, value)
SELECT t || '_' || gname, jsonb_build_object('tenantId', t, 'id', gname, 'name', initcap(gname), 'deleted', false)
FROM unnest(ARRAY['main', 'acme', 'beta', 'gamma']) AS t, unnest(ARRAY['data_team', 'ops_team']) AS gname;

CREATE TEMP TABLE bench_user AS
SELECT u, 'u' || substr(md5('user' || u), 1, 19) AS id,
       (ARRAY['main', 'acme', 'beta', 'gamma'])[u % 4 + 1] AS tenant
FROM generate_series(1, greatest(10, :n / 100)) AS u;

INSERT INTO users (key, value)
SELECT id, jsonb_build_object('id', id, 'username', 'user' || u || '@example.com',
                              'email', 'user' || u || '@example.com', 'firstName', 'First' || u,
                              'lastName', 'Last' || u, 'superAdmin', u = 1, 'deleted', false)
FROM bench_user;

INSERT INTO tenant_access (key, value)
SELECT tenant || '_' || id, jsonb_build_object('tenantId', tenant, 'userId', id, 'deleted', false)
FROM bench_user;

INSERT INTO bindings (key, value)
SELECT tenant || '_b' || u, jsonb_build_object('tenantId', tenant, 'id', 'b' || u, 'type', 'USER',
                                                'externalId', id,
                                                'roleId', (ARRAY['admin', 'developer', 'viewer', 'launcher'])[u % 4 + 1],
                                                'deleted', false)
FROM bench_user;

COMMIT;
ANALYZE;
