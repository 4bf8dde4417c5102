-- Cairn benchmark data set for MariaDB: the same shape as bench/gen.sql (PostgreSQL).
--
--   (echo 'SET @n = 70000;'; cat bench/gen-mysql.sql) | mariadb DB
--
-- Load into a database that already has the Kestra schema
-- (tests/fixtures/kestra-mysql.sql). @n is the number of FLOW ROWS
-- (n/4 flows with 4 revisions each, default 10000); everything else scales from it:
--   flows                    n rows, value ~2-5 KB JSON, source_code ~2-4 KB YAML
--   triggers                 n/2
--   kv_metadata              n/4
--   namespace_file_metadata  n/4
--   dashboards               n/100 (at least 4)
--   users                    n/100 (at least 10), tenant_access and bindings 1 per user
--   roles                    4 per tenant, groups 2 per tenant, namespaces 50 per tenant
--   settings, tenants        a handful (instance level)
-- Four tenants: main, acme, beta, gamma; keys as in gen.sql. Rows come from
-- MariaDB's SEQUENCE engine (seq_1_to_N, a range scan when bounded by @n).
-- Deterministic: the same n gives the same rows (MD5 of the row number, no RAND()).
-- MariaDB only (SEQUENCE engine, JSON_ARRAYAGG); every JSON boolean is written
-- as JSON true/false, not 1/0, and every value compact (JSON_COMPACT), as Kestra's
-- Jackson writes them.

SET NAMES utf8mb4;
SET @n = COALESCE(@n, 10000);
SET SESSION group_concat_max_len = 16777216;
SET SESSION max_heap_table_size = 268435456, tmp_table_size = 268435456;   -- the MEMORY temp tables at large n
SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';
SET SESSION time_zone = '+00:00';

-- JSON true/false from a condition
SET @t = 'true', @f = 'false';

START TRANSACTION;

INSERT INTO tenants (`key`, `value`)
SELECT t, JSON_COMPACT(JSON_OBJECT('id', t, 'name', CONCAT(UPPER(LEFT(t, 1)), SUBSTRING(t, 2), ' tenant'),
                      'deleted', JSON_EXTRACT('false', '$'),
                      'workerGroup', JSON_OBJECT('key', CONCAT(t, '-workers'))))
FROM (SELECT 'main' AS t UNION ALL SELECT 'acme' UNION ALL SELECT 'beta' UNION ALL SELECT 'gamma') AS x;

INSERT INTO settings (`key`, `value`) VALUES
('instance.uuid', '{"key":"instance.uuid","value":"4nAqvxNSVmMUPkyVnTj1hB"}'),
('instance.version', '{"key":"instance.version","value":"1.0.4"}'),
('instance.edition', '{"key":"instance.edition","value":"EE"}'),
('instance.first-start', '{"key":"instance.first-start","value":"2023-01-10T09:00:00Z"}');

-- A flow row: f = flow number, r = revision 1..4 (as gen.sql).
CREATE TEMPORARY TABLE bench_flow (
    g INT PRIMARY KEY, f INT, r INT, tenant VARCHAR(10), ns VARCHAR(60), id VARCHAR(60),
    ntasks INT, h CHAR(32)
) ENGINE = MEMORY;
INSERT INTO bench_flow
SELECT seq,
       (seq - 1) DIV 4,
       (seq - 1) % 4 + 1,
       ELT(((seq - 1) DIV 4) % 4 + 1, 'main', 'acme', 'beta', 'gamma'),
       CONCAT('company.team', ((seq - 1) DIV 4) % 50, '.',
              ELT(((seq - 1) DIV 4) % 5 + 1, 'etl', 'reporting', 'ml', 'ops', 'sales')),
       CONCAT('flow_', (seq - 1) DIV 4, '_', LEFT(MD5((seq - 1) DIV 4), 6)),
       4 + ((seq - 1) DIV 4) % 4 + (seq - 1) % 4,
       MD5(seq)
FROM seq_1_to_10000000 WHERE seq <= @n;

-- Each flow row's tasks, as JSON and as YAML (4 to 10 tasks).
CREATE TEMPORARY TABLE bench_task (g INT PRIMARY KEY, tj LONGTEXT, ty LONGTEXT);
INSERT INTO bench_task
SELECT b.g,
       JSON_ARRAYAGG(JSON_OBJECT(
           'id', CONCAT('task_', k.seq),
           'type', ELT(k.seq % 4 + 1, 'io.kestra.plugin.jdbc.postgresql.Query',
                       'io.kestra.plugin.scripts.python.Script',
                       'io.kestra.plugin.core.http.Request', 'io.kestra.plugin.core.log.Log'),
           'description', CONCAT('step ', k.seq, ' of ', b.id),
           'timeout', CONCAT('PT', k.seq * 5, 'M'),
           'retry', JSON_OBJECT('type', 'constant', 'interval', 'PT30S', 'maxAttempt', k.seq % 5 + 1),
           'sql', CONCAT('SELECT * FROM {{ vars.table }} WHERE day = ''{{ inputs.date }}'' AND k = ',
                         k.seq, ' LIMIT {{ inputs.limit }} -- ', MD5(CONCAT(b.h, k.seq))),
           'outputFiles', JSON_ARRAY(CONCAT('out_', k.seq, '.csv'), CONCAT('log_', k.seq, '.txt')))
           ORDER BY k.seq),
       GROUP_CONCAT(CONCAT(
           '  - id: task_', k.seq, '\n    type: ',
           ELT(k.seq % 4 + 1, 'io.kestra.plugin.jdbc.postgresql.Query', 'io.kestra.plugin.scripts.python.Script',
               'io.kestra.plugin.core.http.Request', 'io.kestra.plugin.core.log.Log'),
           '\n    description: step ', k.seq, ' of ', b.id,
           '\n    timeout: PT', k.seq * 5,
           'M\n    retry:\n      type: constant\n      interval: PT30S\n      maxAttempt: ', k.seq % 5 + 1,
           '\n    sql: |\n      SELECT * FROM {{ vars.table }}\n      WHERE day = ''{{ inputs.date }}'' AND k = ',
           k.seq, '\n      LIMIT {{ inputs.limit }} -- ', MD5(CONCAT(b.h, k.seq)), '\n')
           ORDER BY k.seq SEPARATOR '')
FROM bench_flow AS b JOIN seq_1_to_10 AS k ON k.seq <= b.ntasks
GROUP BY b.g;

INSERT INTO flows (`key`, `value`, source_code)
SELECT CONCAT(b.tenant, '_', b.ns, '_', b.id, '_', b.r),
       JSON_COMPACT(JSON_OBJECT(
           'id', b.id, 'namespace', b.ns, 'revision', b.r, 'tenantId', b.tenant,
           'disabled', JSON_EXTRACT(IF(b.f % 17 = 0, @t, @f), '$'),
           'deleted', JSON_EXTRACT(IF(b.r = 4 AND b.f % 10 = 0, @t, @f), '$'),
           'description', CONCAT('Loads the ', b.id, ' data set into the warehouse, revision ', b.r,
                                 ' (', b.h, ')'),
           'labels', JSON_ARRAY(
               JSON_OBJECT('key', 'team', 'value', CONCAT('team-', b.f % 12)),
               JSON_OBJECT('key', 'env', 'value', ELT(b.f % 3 + 1, 'dev', 'staging', 'prod')),
               JSON_OBJECT('key', 'owner', 'value', CONCAT('user', b.f % 97, '@example.com'))),
           'inputs', JSON_ARRAY(
               JSON_OBJECT('id', 'date', 'type', 'DATETIME', 'required', JSON_EXTRACT(@f, '$'),
                           'defaults', '2025-01-01T00:00:00Z'),
               JSON_OBJECT('id', 'limit', 'type', 'INT', 'required', JSON_EXTRACT(@f, '$'),
                           'defaults', b.f % 1000),
               JSON_OBJECT('id', 'bucket', 'type', 'STRING', 'required', JSON_EXTRACT(@t, '$'),
                           'description', CONCAT('target bucket ', LEFT(b.h, 8))),
               JSON_OBJECT('id', 'dry', 'type', 'BOOLEAN', 'defaults', JSON_EXTRACT(@f, '$'))),
           'variables', JSON_OBJECT('table', CONCAT('tbl_', SUBSTRING(b.h, 9, 10)),
                                    'retention', b.f % 90, 'region', CONCAT('eu-west-', b.f % 3)),
           'tasks', JSON_EXTRACT(t.tj, '$'),
           'errors', JSON_ARRAY(JSON_OBJECT(
               'id', 'alert', 'type', 'io.kestra.plugin.notifications.slack.SlackIncomingWebhook',
               'url', '{{ secret(''SLACK_WEBHOOK'') }}',
               'payload', CONCAT('{"text": "flow ', b.id, ' failed"}'))),
           'triggers', JSON_ARRAY(JSON_OBJECT(
               'id', 'schedule', 'type', 'io.kestra.plugin.core.trigger.Schedule',
               'cron', CONCAT(b.f % 60, ' ', b.f % 24, ' * * *'), 'timezone', 'Europe/Paris')),
           'pluginDefaults', JSON_ARRAY(JSON_OBJECT(
               'type', 'io.kestra.plugin.jdbc.postgresql', 'values',
               JSON_OBJECT('url', CONCAT('jdbc:postgresql://db-', b.f % 7, ':5432/dwh'),
                           'username', 'etl'))),
           'concurrency', JSON_OBJECT('limit', 1 + b.f % 3, 'behavior', 'QUEUE'))),
       CONCAT('id: ', b.id, '\nnamespace: ', b.ns, '\ndescription: Loads the ', b.id,
              ' data set into the warehouse, revision ', b.r, ' (', b.h, ')\n\nlabels:\n  team: team-',
              b.f % 12, '\n  env: ', ELT(b.f % 3 + 1, 'dev', 'staging', 'prod'),
              '\n  owner: user', b.f % 97, '@example.com\n\ninputs:\n',
              '  - id: date\n    type: DATETIME\n    defaults: "2025-01-01T00:00:00Z"\n',
              '  - id: limit\n    type: INT\n    defaults: ', b.f % 1000,
              '\n  - id: bucket\n    type: STRING\n    required: true\n',
              '  - id: dry\n    type: BOOLEAN\n    defaults: false\n\nvariables:\n  table: tbl_',
              SUBSTRING(b.h, 9, 10), '\n  retention: ', b.f % 90, '\n\ntasks:\n',
              t.ty,
              '\nerrors:\n  - id: alert\n    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook\n',
              '    url: "{{ secret(''SLACK_WEBHOOK'') }}"\n\ntriggers:\n  - id: schedule\n',
              '    type: io.kestra.plugin.core.trigger.Schedule\n    cron: "', b.f % 60, ' ', b.f % 24,
              ' * * *"\n    timezone: Europe/Paris\n')
FROM bench_flow AS b JOIN bench_task AS t ON t.g = b.g;

-- Triggers: n/2, one per flow and trigger id (two trigger ids per flow).
INSERT INTO triggers (`key`, `value`)
SELECT CONCAT(b.tenant, '_', b.ns, '_', b.id, '_', tid.t),
       JSON_COMPACT(JSON_OBJECT('tenantId', b.tenant, 'namespace', b.ns, 'flowId', b.id, 'triggerId', tid.t,
                   'date', '2025-10-01T09:00:00Z',
                   'nextExecutionDate', DATE_FORMAT(TIMESTAMP '2025-10-02 00:00:00' + INTERVAL (b.f % 1440) MINUTE,
                                                    '%Y-%m-%dT%H:%i:%sZ'),
                   'disabled', JSON_EXTRACT(IF(b.f % 17 = 0, @t, @f), '$'),
                   'updatedDate', '2025-10-01T09:00:01.123Z',
                   'workerId', CASE WHEN b.f % 5 = 0 THEN CONCAT('worker-', b.f % 8) END,
                   'executionId', CASE WHEN b.f % 7 = 0 THEN LEFT(b.h, 22) END))
FROM bench_flow AS b
JOIN (SELECT 'schedule' AS t UNION ALL SELECT 'webhook') AS tid
WHERE b.r = 1;

INSERT INTO kv_metadata (`key`, `value`, updated)
SELECT CONCAT(b.tenant, '_', b.ns, '_key_', b.f, '_1'),
       JSON_COMPACT(JSON_OBJECT('tenantId', b.tenant, 'namespace', b.ns, 'name', CONCAT('key_', b.f),
                   'description', CONCAT('kv ', LEFT(b.h, 12)), 'version', 1,
                   'last', JSON_EXTRACT(@t, '$'), 'deleted', JSON_EXTRACT(@f, '$'),
                   'created', '2025-05-01T10:00:00Z', 'updated', '2025-05-01T10:00:00Z')),
       TIMESTAMP '2025-05-01 10:00:00' + INTERVAL b.f SECOND
FROM bench_flow AS b WHERE b.r = 1;

INSERT INTO namespace_file_metadata (`key`, `value`)
SELECT CONCAT(b.tenant, '_', b.ns, '_/scripts/', b.id, '.py_1'),
       JSON_COMPACT(JSON_OBJECT('tenantId', b.tenant, 'namespace', b.ns, 'path', CONCAT('/scripts/', b.id, '.py'),
                   'parentPath', '/scripts/', 'version', 1, 'last', JSON_EXTRACT(@t, '$'),
                   'size', 100 + b.f % 50000, 'deleted', JSON_EXTRACT(@f, '$'),
                   'created', '2025-06-01T08:00:00Z', 'updated', '2025-06-01T08:00:00Z'))
FROM bench_flow AS b WHERE b.r = 1;

INSERT INTO dashboards (`key`, `value`, source_code, created, updated)
SELECT CONCAT(tn.t, '_dash_', i.seq),
       JSON_COMPACT(JSON_OBJECT('id', CONCAT('dash_', i.seq), 'tenantId', tn.t, 'title', CONCAT('Dashboard ', i.seq),
                   'description', CONCAT('Executions by state for team ', i.seq),
                   'deleted', JSON_EXTRACT(@f, '$'),
                   'charts', (SELECT JSON_ARRAYAGG(JSON_OBJECT(
                                  'id', CONCAT('chart_', c.seq),
                                  'type', 'io.kestra.plugin.core.dashboard.chart.Bar',
                                  'data', JSON_OBJECT('type', 'io.kestra.plugin.core.dashboard.data.Executions',
                                                      'columns', JSON_OBJECT('state', JSON_OBJECT('field', 'STATE'))))
                                  ORDER BY c.seq)
                              FROM seq_1_to_6 AS c))),
       CONCAT('id: dash_', i.seq, '\ntitle: Dashboard ', i.seq, '\ncharts:\n',
              REPEAT('  - id: chart\n    type: io.kestra.plugin.core.dashboard.chart.Bar\n', 6)),
       TIMESTAMP '2025-03-04 10:11:12', TIMESTAMP '2025-03-05 08:00:00'
FROM (SELECT 'main' AS t UNION ALL SELECT 'acme' UNION ALL SELECT 'beta' UNION ALL SELECT 'gamma') AS tn
JOIN seq_1_to_1000000 AS i ON i.seq <= GREATEST(1, @n DIV 400);

INSERT INTO namespaces (`key`, `value`)
SELECT CONCAT(tn.t, '_company.team', i.seq),
       JSON_COMPACT(JSON_OBJECT('tenantId', tn.t, 'id', CONCAT('company.team', i.seq), 'deleted', JSON_EXTRACT(@f, '$'),
                   'description', CONCAT('namespace ', i.seq)))
FROM (SELECT 'main' AS t UNION ALL SELECT 'acme' UNION ALL SELECT 'beta' UNION ALL SELECT 'gamma') AS tn
JOIN seq_0_to_49 AS i;

INSERT INTO roles (`key`, `value`)
SELECT CONCAT(tn.t, '_', r.r),
       JSON_COMPACT(JSON_OBJECT('tenantId', tn.t, 'id', r.r, 'name', CONCAT(UPPER(LEFT(r.r, 1)), SUBSTRING(r.r, 2)),
                   'deleted', JSON_EXTRACT(@f, '$'),
                   'permissions', JSON_OBJECT(
                       'FLOW', JSON_ARRAY('CREATE', 'READ', 'UPDATE', 'DELETE'),
                       'EXECUTION', JSON_ARRAY('CREATE', 'READ'),
                       'NAMESPACE', JSON_ARRAY('READ'))))
FROM (SELECT 'main' AS t UNION ALL SELECT 'acme' UNION ALL SELECT 'beta' UNION ALL SELECT 'gamma') AS tn
JOIN (SELECT 'admin' AS r UNION ALL SELECT 'developer' UNION ALL SELECT 'viewer' UNION ALL SELECT 'launcher') AS r;

INSERT INTO `groups` (`key`, `value`)
SELECT CONCAT(tn.t, '_', gn.g),
       JSON_COMPACT(JSON_OBJECT('tenantId', tn.t, 'id', gn.g, 'name', CONCAT(UPPER(LEFT(gn.g, 1)), SUBSTRING(gn.g, 2)),
                   'deleted', JSON_EXTRACT(@f, '$')))
FROM (SELECT 'main' AS t UNION ALL SELECT 'acme' UNION ALL SELECT 'beta' UNION ALL SELECT 'gamma') AS tn
JOIN (SELECT 'data_team' AS g UNION ALL SELECT 'ops_team') AS gn;

CREATE TEMPORARY TABLE bench_user (u INT PRIMARY KEY, id VARCHAR(20), tenant VARCHAR(10)) ENGINE = MEMORY;
INSERT INTO bench_user
SELECT seq, CONCAT('u', LEFT(MD5(CONCAT('user', seq)), 19)), ELT(seq % 4 + 1, 'main', 'acme', 'beta', 'gamma')
FROM seq_1_to_10000000 WHERE seq <= GREATEST(10, @n DIV 100);

INSERT INTO users (`key`, `value`)
SELECT id, JSON_COMPACT(JSON_OBJECT('id', id, 'username', CONCAT('user', u, '@example.com'),
                       'email', CONCAT('user', u, '@example.com'), 'firstName', CONCAT('First', u),
                       'lastName', CONCAT('Last', u), 'superAdmin', JSON_EXTRACT(IF(u = 1, @t, @f), '$'),
                       'deleted', JSON_EXTRACT(@f, '$')))
FROM bench_user;

INSERT INTO tenant_access (`key`, `value`)
SELECT CONCAT(tenant, '_', id), JSON_COMPACT(JSON_OBJECT('tenantId', tenant, 'userId', id, 'deleted', JSON_EXTRACT(@f, '$')))
FROM bench_user;

INSERT INTO bindings (`key`, `value`)
SELECT CONCAT(tenant, '_b', u),
       JSON_COMPACT(JSON_OBJECT('tenantId', tenant, 'id', CONCAT('b', u), 'type', 'USER', 'externalId', id,
                   'roleId', ELT(u % 4 + 1, 'admin', 'developer', 'viewer', 'launcher'),
                   'deleted', JSON_EXTRACT(@f, '$')))
FROM bench_user;

COMMIT;

DROP TEMPORARY TABLE bench_flow, bench_task, bench_user;
ANALYZE TABLE bindings, blueprints, dashboards, flows, `groups`, kv_metadata, namespaces,
    namespace_file_metadata, roles, secrets, security_integrations, settings, templates, tenants,
    tenant_access, triggers, users;
