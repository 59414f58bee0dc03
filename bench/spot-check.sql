-- Spot check of the list endpoints' plans at the MES issue's target size: 2,000 lots, 100,000 serials (each
-- from a WIP item), 800,000 process records (8 per unit), ~1,000,000 audit rows. Plain SQL on a freshly
-- deployed database (`neurohub deploy`), in one transaction, through the real triggers (≈80 s here).
-- This is not the benchmark (that is `neurohub seed` + a load tool, its own issue); it is the data behind the
-- EXPLAIN figures in docs/performance.md.
-- Usage: psql "$DATABASE_URL" -f bench/spot-check.sql
BEGIN;
SELECT set_config('app.request_id', 'perf-seed', true);
INSERT INTO product_models (model_code, model_name) SELECT 'M' || lpad(i::text, 2, '0'), 'Model ' || i FROM generate_series(1, 10) i;
INSERT INTO production_lines (country_code, line_code, name) SELECT 'KR', lpad(i::text, 2, '0'), 'Line ' || i FROM generate_series(1, 4) i;
INSERT INTO users (username, full_name, password_hash, role) SELECT 'op' || i, 'Operator ' || i, 'x', 'OPERATOR' FROM generate_series(1, 20) i;
INSERT INTO equipment (equipment_code, name, equipment_type, process_id, status)
  SELECT 'EQ-' || p.process_number || '-' || i, 'Station', 'STATION', p.id, 'AVAILABLE' FROM processes p, generate_series(1, 4) i;
INSERT INTO lots (lot_number, product_model_id, production_line_id, production_date, target_quantity, status)
SELECT 'KR' || l.line_code || m.model_code || to_char(d, 'YYMM') || lpad(s::text, 2, '0'), m.id, l.id, (d::date + s), 50, 'IN_PROGRESS'
FROM product_models m, production_lines l, generate_series('2026-01-01'::date, '2026-10-01'::date, '1 month') d, generate_series(1, 5) s;
INSERT INTO serials (serial_number, lot_id, sequence_in_lot, status, completed_at)
SELECT lot_number || lpad(q::text, 3, '0'), id, q, 'COMPLETED', production_date + interval '20 hours'
FROM lots, generate_series(1, 50) q;
INSERT INTO wip_items (wip_id, lot_id, sequence_in_lot, status, serial_id)
SELECT 'WIP-' || l.lot_number || '-' || lpad(s.sequence_in_lot::text, 3, '0'), l.id, s.sequence_in_lot, 'CONVERTED', s.id
FROM lots l JOIN serials s ON s.lot_id = l.id;
INSERT INTO process_data (lot_id, wip_id, serial_id, process_id, operator_id, equipment_id, data_level, result,
                          measurements, defects, criteria_passed, attempt, started_at, completed_at)
SELECT w.lot_id, w.id, CASE WHEN p.process_number = 8 THEN w.serial_id END, p.id,
       (SELECT min(id) FROM users) + (w.id % 20), (SELECT min(id) FROM equipment WHERE process_id = p.id) + (w.id % 4),
       CASE WHEN p.process_number = 8 THEN 'SERIAL' ELSE 'WIP' END, 'PASS',
       '{"value": 1}'::jsonb, NULL, true, 1,
       l.production_date + make_interval(hours => p.process_number, secs => w.sequence_in_lot),
       l.production_date + make_interval(hours => p.process_number, secs => w.sequence_in_lot + 60)
FROM wip_items w JOIN lots l ON l.id = w.lot_id CROSS JOIN processes p;
COMMIT;
ANALYZE;
SELECT (SELECT count(*) FROM lots) lots, (SELECT count(*) FROM serials) serials, (SELECT count(*) FROM process_data) records, (SELECT count(*) FROM audit_logs) audit;
