-- Read paths of the benchmarks (issues 16 and 17, docs/benchmarks.md).
--
-- Board search over many threads (issue 16, "The boards"):
-- A search ranks the 1,000 most recently active matches (docs/api.md). For
-- a common word those come off the latest-activity index, checking each
-- thread's search document on the way down; with the document (and the
-- category, for the visibility filter) carried in that index, the walk is
-- an index-only scan and reads no table row. It replaces the plain
-- latest-activity index (same key, same partial predicate), which the
-- latest list also uses.
CREATE INDEX board_threads_latest_search ON board_threads (last_activity_at DESC, id DESC)
    INCLUDE (category_id, search) WHERE deleted_at IS NULL AND NOT hidden;
DROP INDEX board_threads_latest;

-- A search reads the whole of a GIN index's pending list (entries not yet
-- merged into the index); on a board, reads far outnumber new posts, so
-- every new thread goes straight into the index.
ALTER INDEX board_threads_search SET (fastupdate = off);
SELECT gin_clean_pending_list('board_threads_search'::regclass);

-- The expert dashboard (issue 17) counts each offering's bookings, every
-- status: an index on the offering with what the counts read, so a
-- mentor's 1,000 past sessions are 1,000 index-only lookups instead of a
-- pass over every booking.
CREATE INDEX bookings_offering ON bookings (offering_id) INCLUDE (status, attended_at);

-- Matching (issue 17) takes its candidates group by group: mentors with a
-- wanted skill and a wanted category, then with either, then the rest,
-- each best rated first. The skill and tag indexes find the first two
-- groups; the rating index lists the rest in order.
CREATE INDEX directory_search_skill_names ON directory_search USING gin (skill_names);
CREATE INDEX directory_search_tags ON directory_search USING gin (tags);
CREATE INDEX directory_search_rating ON directory_search (rating_avg DESC, user_id);
