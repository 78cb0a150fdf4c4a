-- Who must hear of an invocation's completion, so that completions are not broadcast to every
-- node: the node whose ingress created it (callers there wait in memory) and, once a node other
-- than that one waits on it (attach), every node (`watched`).
ALTER TABLE invocations ADD COLUMN origin_node TEXT;
ALTER TABLE invocations ADD COLUMN watched INTEGER NOT NULL DEFAULT 0;
