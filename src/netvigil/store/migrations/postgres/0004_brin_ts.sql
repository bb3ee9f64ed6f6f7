-- Raw measurements arrive in time order, so a BRIN index on `ts` (one summary per range
-- of pages) finds the rows of a time range as a B-tree does (prunes delete the rows of
-- the one partition that straddles the cut; reads filter on time) at a small part of its
-- cost per inserted row. Ranges are summarized as they fill (autosummarize).
DROP INDEX measurements_ts;
CREATE INDEX measurements_ts ON measurements USING brin (ts) WITH (autosummarize = on);
