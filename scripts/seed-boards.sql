-- Seeds the boards for their benchmark (scripts/bench-boards.sh):
--   psql -v n=100000 -v template=seed-template@bench.example -f scripts/seed-boards.sql
-- Rows as the server writes them (src/routes/boards/): 500 authors (users
-- with the :template account's password hash, a tenth of them mentors), one
-- public category, :n threads of one question each (a title, tags and a
-- Markdown question drawn from word lists, the search document as
-- SEARCH_VECTOR builds it, body_html as boards::render leaves plain
-- paragraphs), and one more thread, "The long thread", with 500 replies
-- (every tenth answering an earlier reply). Every value comes from a hash
-- of the row number, so a seed is the same every time.
\set ON_ERROR_STOP on
BEGIN;

CREATE FUNCTION pg_temp.r(i int, salt int, n int) RETURNS int LANGUAGE sql IMMUTABLE AS
  $$ SELECT ((hashint4(i * 7919 + salt * 104729) & 2147483647) % n) $$;
CREATE FUNCTION pg_temp.pick(a text[], i int, salt int) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT a[1 + pg_temp.r(i, salt, array_length(a, 1))] $$;

CREATE TEMP TABLE w AS SELECT
  ARRAY['Ada','Grace','Alan','Barbara','Edsger','Frances','Donald','Radia','Ken','Margaret','Aisha','Mateo',
        'Priya','Wei','Yuki','Olu','Sofia','Liam','Noah','Emma','Chidi','Fatima','Hiro','Ingrid'] AS first,
  ARRAY['Lovelace','Hopper','Turing','Liskov','Dijkstra','Allen','Knuth','Perlman','Thompson','Hamilton',
        'Okafor','Garcia','Sharma','Zhang','Tanaka','Adeyemi','Rossi','Murphy','Silva','Nakamura'] AS last,
  ARRAY['How do I prepare for','Any advice on','What to expect from','Tips for','Is it worth doing',
        'How long did you spend on','Questions about','Experiences with','Struggling with','First time at'] AS opener,
  ARRAY['the Hooli interview','a system design round','an internship at Globex','the placement season',
        'a data science offer','negotiating a first salary','a Rust backend role','the coding test at Initech',
        'a product manager interview','moving from QA to engineering','a research internship',
        'the Acme graduate scheme','behavioural questions','a machine learning take-home','remote onboarding',
        'a PostgreSQL performance question','Kubernetes in production','an on-site at Pied Piper',
        'a security engineering track','a referral from an alumnus'] AS topic,
  ARRAY['interviews','placements','internships','resume','negotiation','careers','system-design',
        'data-science','rust','first-job'] AS tags,
  ARRAY['I have two weeks left and I am not sure where to start.',
        'My mentor suggested practising with mock interviews, but I would like more opinions.',
        'The recruiter said the process has three rounds and a take-home exercise.',
        'I am a final-year student and this is my first offer.',
        'What resources helped you the most, and what would you skip?',
        'Any alumni who went through this recently?'] AS sentence;

INSERT INTO users (id, email, password_hash, display_name, role, created_at, updated_at)
SELECT md5('board-author-' || i)::uuid, 'board.author.' || i || '@bench.example',
       coalesce((SELECT password_hash FROM users WHERE lower(email) = lower(:'template')), '$argon2id$placeholder'),
       pg_temp.pick(w.first, i, 1) || ' ' || pg_temp.pick(w.last, i, 2),
       CASE WHEN i % 10 = 0 THEN 'mentor' ELSE 'mentee' END,
       now() - interval '60 days', now() - interval '60 days'
  FROM generate_series(1, 500) AS i, w;

INSERT INTO board_categories (id, slug, name, description, visibility)
VALUES (md5('board-category')::uuid, 'placements', 'Placements', 'Interviews, offers and placement seasons', 'public');

CREATE TEMP TABLE t AS
SELECT i,
       md5('board-thread-' || i)::uuid AS id,
       md5('board-post-' || i)::uuid AS post,
       md5('board-author-' || (1 + pg_temp.r(i, 3, 500)))::uuid AS author,
       pg_temp.pick(w.opener, i, 4) || ' ' || pg_temp.pick(w.topic, i, 5) || '?' AS title,
       ARRAY[pg_temp.pick(w.tags, i, 6), pg_temp.pick(w.tags, i, 7)] AS tags,
       pg_temp.pick(w.sentence, i, 8) || ' ' || pg_temp.pick(w.sentence, i, 9) AS body,
       now() - make_interval(secs => i * 20) AS at
  FROM generate_series(1, :n) AS i, w;

INSERT INTO board_threads (id, category_id, author_id, title, tags, first_post_id, reply_count,
                           created_at, last_activity_at, search)
SELECT id, md5('board-category')::uuid, author, title,
       ARRAY(SELECT DISTINCT unnest(tags)), post, 0, at, at,
       setweight(to_tsvector('english', title), 'A')
       || setweight(to_tsvector('english', array_to_string(tags, ' ')), 'B')
       || setweight(to_tsvector('english', body), 'C')
  FROM t;
-- Each thread's question (its first post; the key to it is deferred).
INSERT INTO board_posts (id, thread_id, author_id, body, body_html, created_at)
SELECT post, id, author, body, '<p>' || body || '</p>', at FROM t ORDER BY i;

-- The long thread: a question and 500 replies.
INSERT INTO board_threads (id, category_id, author_id, title, tags, first_post_id, reply_count,
                           created_at, last_activity_at, search)
VALUES (md5('board-long')::uuid, md5('board-category')::uuid, md5('board-author-1')::uuid,
        'The long thread: placement season stories', ARRAY['placements'], md5('board-long-post-0')::uuid, 500,
        now() - interval '1 day', now(),
        setweight(to_tsvector('english', 'The long thread: placement season stories'), 'A'));
INSERT INTO board_posts (id, thread_id, author_id, body, body_html, created_at)
VALUES (md5('board-long-post-0')::uuid, md5('board-long')::uuid, md5('board-author-1')::uuid,
        'Share your placement season story: what worked and what did not?',
        '<p>Share your placement season story: what worked and what did not?</p>', now() - interval '1 day');
INSERT INTO board_posts (id, thread_id, author_id, parent_id, body, body_html, created_at)
SELECT md5('board-long-post-' || i)::uuid, md5('board-long')::uuid,
       md5('board-author-' || (1 + pg_temp.r(i, 10, 500)))::uuid,
       CASE WHEN i % 10 = 0 THEN md5('board-long-post-' || (i - 5))::uuid END,
       pg_temp.pick(w.sentence, i, 11) || ' ' || pg_temp.pick(w.sentence, i, 12),
       '<p>' || pg_temp.pick(w.sentence, i, 11) || ' ' || pg_temp.pick(w.sentence, i, 12) || '</p>',
       now() - interval '1 day' + make_interval(secs => i * 60)
  FROM generate_series(1, 500) AS i, w ORDER BY i;
COMMIT;
ANALYZE users; ANALYZE board_threads; ANALYZE board_posts;
