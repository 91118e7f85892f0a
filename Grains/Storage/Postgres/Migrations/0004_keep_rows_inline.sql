-- Rows of the log stay in its heap up to a page (toast_tuple_target 8160 bytes) instead of 2 KB. Kubernetes objects
-- of 2-8 KB were compressed (an attempt, for values that do not compress) and moved to the TOAST table in chunks,
-- each with its own index entry: 40 % of PostgreSQL's CPU on updates of 1-4 KiB values, on every commit's path.
-- Larger rows are still compressed and moved out of line. Rows already written keep where they are.
ALTER TABLE kv_log SET (toast_tuple_target = 8160);
