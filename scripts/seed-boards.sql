-- Seeds the boards for their benchmark (scripts/bench-boards.sh):
--   psql -v n=100000 -v template=seed-template@bench.example -f scripts/seed-boards.sql
-- Rows as the server writes them (src/routes/boards/): 500 authors (users
-- with the :template account's password hash, a tenth of them mentors), one
-- public category, :n threads of one question each (a title, tags and a
-- Markdown question of 2 to 5 sentences, drawn from templates filled with
-- 40 employers, 20 roles, 18 stages of a placement process and 70 topics,
-- each drawn with a skew as words are used; one thread is about its own
-- two employers, roles and stages and two topics, so a common employer or
-- topic is in ~10 % of the threads, a rare one in ~1-2 %; the search document as
-- SEARCH_VECTOR builds it, body_html as boards::render leaves plain
-- paragraphs), and one more thread, "The long thread", with 500 replies
-- (every tenth answering an earlier reply). Every value comes from a hash
-- of the row number, so a seed is the same every time.
\set ON_ERROR_STOP on
BEGIN;

CREATE FUNCTION pg_temp.r(i int, salt int, n int) RETURNS int LANGUAGE sql IMMUTABLE AS
  $$ SELECT ((hashint8(i::bigint * 7919 + salt * 104729) & 2147483647) % n)::int $$;
CREATE FUNCTION pg_temp.pick(a text[], i int, salt int) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT a[1 + pg_temp.r(i, salt, array_length(a, 1))] $$;

-- A value of an array drawn with a skew, as words are used: the first few
-- often, the long tail rarely (index ~ n * u^1.5; with n = 40 the first is
-- drawn 8.5 % of the time, the last 1.7 %).
CREATE FUNCTION pg_temp.skew(a text[], i int, salt int) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT a[1 + floor(array_length(a, 1) * power(pg_temp.r(i, salt, 1000000) / 1000000.0, 1.5))::int] $$;

CREATE TEMP TABLE w AS SELECT
  ARRAY['Ada','Grace','Alan','Barbara','Edsger','Frances','Donald','Radia','Ken','Margaret','Aisha','Mateo',
        'Priya','Wei','Yuki','Olu','Sofia','Liam','Noah','Emma','Chidi','Fatima','Hiro','Ingrid'] AS first,
  ARRAY['Lovelace','Hopper','Turing','Liskov','Dijkstra','Allen','Knuth','Perlman','Thompson','Hamilton',
        'Okafor','Garcia','Sharma','Zhang','Tanaka','Adeyemi','Rossi','Murphy','Silva','Nakamura'] AS last,
  -- 40 employers, 20 roles, 18 stages of a placement process, 70 topics.
  ARRAY['Hooli','Globex','Initech','Acme','Umbrella','Stark Industries','Wayne Enterprises','Cyberdyne',
        'Soylent','Wonka Labs','Tyrell','Aperture','Black Mesa','Vandelay','Pied Piper','Massive Dynamic',
        'Oscorp','Gringotts','Dunder Mifflin','Nakatomi','Virtucon','Nimbus','Blue Sun','Weyland','Zorg',
        'Spacely','Prestige Worldwide','Sirius Cybernetics','Monarch','Krusty Krab','Bluth','Sterling Cooper',
        'Los Pollos','Gekko','Duff','Ollivanders','Buy n Large','Omni Consumer','Rekall','Tricell'] AS company,
  ARRAY['software engineer intern','SDE','data analyst','data scientist','product manager',
        'site reliability engineer','machine learning engineer','frontend developer','backend developer',
        'QA engineer','security analyst','business analyst','consultant','DevOps engineer','mobile developer',
        'research assistant','UX designer','hardware engineer','embedded engineer','technical writer'] AS role,
  ARRAY['online assessment','phone screen','technical round','system design round','HR round',
        'managerial round','group discussion','aptitude test','case interview','take-home assignment',
        'on-site','offer letter','background verification','joining date','pre-placement talk',
        'resume shortlist','coding test','final round'] AS stage,
  ARRAY['dynamic programming','graphs','binary trees','recursion','sliding window','linked lists','heaps',
        'tries','bit manipulation','greedy algorithms','SQL joins','window functions','database indexing',
        'normalization','operating systems','deadlocks','paging','the TCP handshake','DNS','load balancing',
        'caching','sharding','consistent hashing','rate limiting','message queues','Kafka','Redis','Docker',
        'Kubernetes','Terraform','AWS','GCP','React hooks','TypeScript','Rust','Go','Java streams',
        'Spring Boot','Django','Flask','pandas','statistics','A/B testing','linear regression',
        'neural networks','NLP','computer vision','Excel','Tableau','Power BI','product sense',
        'estimation questions','guesstimates','behavioural questions','the STAR method',
        'leadership principles','conflict resolution','the CGPA cutoff','backlogs','a resume gap',
        'cover letters','my LinkedIn profile','referrals','the stipend','the CTC breakup','the notice period',
        'a service bond','relocation','visa sponsorship','remote work'] AS topic,
  ARRAY['How do I prepare for the {c} {s}?','{c} {r} {s} experience','Questions asked in the {c} {s} for {r}',
        'How much {t} is needed for {r} roles?','Is {t} asked in the {s}?','{c} vs {c2}: which offer should I take?',
        'Rejected after the {c} {s}, what next?','Best resources for {t}?','Negotiating {t} with {c}',
        '{r} at {c}: what is the work culture like?','Stuck on {t} before my {s}','Tips for the {s} at {c}',
        'Does {c} care about {t}?','How long after the {c} {s} did you hear back?','{r} or {r2} as a first job?',
        'Moving from {r} to {r2}','Did anyone get a {c} {r} offer this season?','{s} next week, {t} still weak',
        'Is {c} worth it for a {r}?','Switching from {c} to {c2} after a year'] AS title,
  ARRAY['I have {n} days left before the {s} and {t} is my weakest area.',
        'My seniors said {c} asks a lot of {t}, but the recruiter did not mention it.',
        'The {s} had {n} questions, two of them on {t}.',
        'I am a final-year student applying for {r} roles at {c} and {c2}.',
        'What resources helped you with {t}, and what would you skip?',
        'Any alumni who went through the {c} {s} recently?',
        'I practised {t} for {n} weeks but still freeze when the interviewer asks follow-ups.',
        'The offer from {c} is {n} lakh more, but the team works on {t} and I want {t2}.',
        'They asked me to explain {t} on a whiteboard and then to compare it with {t2}.',
        'My mentor suggested mock interviews on {t}; I would like more opinions.',
        'Is it normal that the {s} took {n} weeks to schedule?',
        'I cleared the {s} but got no feedback about the {s2}.',
        'The job description lists {t}, {t2} and {t3}, which should I focus on?',
        'I have a gap of {n} months on my resume because of {t}.',
        'The {r} role at {c} pays a stipend but asks for a {n}-month bond.',
        'Our placement cell says {c} visits in {n} weeks and shortlists on {t}.',
        'Would learning {t} help for {r} interviews or is {t2} enough?',
        'I got through with {t}; happy to share my notes on the {s}.'] AS sentence,
  ARRAY['interviews','placements','internships','resume','negotiation','careers','system-design',
        'data-science','rust','first-job','offers','referrals','aptitude','coding-test','hr-round','alumni'] AS tags;

INSERT INTO users (id, email, password_hash, display_name, role, created_at, updated_at)
SELECT md5('board-author-' || i)::uuid, 'board.author.' || i || '@bench.example',
       coalesce((SELECT password_hash FROM users WHERE lower(email) = lower(:'template')), '$argon2id$placeholder'),
       pg_temp.pick(w.first, i, 1) || ' ' || pg_temp.pick(w.last, i, 2),
       CASE WHEN i % 10 = 0 THEN 'mentor' ELSE 'mentee' END,
       now() - interval '60 days', now() - interval '60 days'
  FROM generate_series(1, 500) AS i, w;

INSERT INTO board_categories (id, slug, name, description, visibility)
VALUES (md5('board-category')::uuid, 'placements', 'Placements', 'Interviews, offers and placement seasons', 'public');

CREATE FUNCTION pg_temp.fill(tpl text, i int, salt int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT replace(replace(replace(replace(replace(replace(replace(replace(replace(tpl,
           '{c2}', pg_temp.skew(w.company, i, salt + 1)), '{c}', pg_temp.skew(w.company, i, salt + 2)),
           '{r2}', pg_temp.skew(w.role, i, salt + 3)), '{r}', pg_temp.skew(w.role, i, salt + 4)),
           '{s2}', pg_temp.skew(w.stage, i, salt + 5)), '{s}', pg_temp.skew(w.stage, i, salt + 6)),
           '{t3}', pg_temp.skew(w.topic, i, salt + 8)), '{t2}', pg_temp.skew(w.topic, i, salt + 8)),
           '{t}', pg_temp.skew(w.topic, i, salt + 9)) FROM w
$$;

CREATE TEMP TABLE t AS
SELECT i,
       md5('board-thread-' || i)::uuid AS id,
       md5('board-post-' || i)::uuid AS post,
       md5('board-author-' || (1 + pg_temp.r(i, 3, 500)))::uuid AS author,
       replace(pg_temp.fill(pg_temp.pick(w.title, i, 4), i, 100), '{n}', (2 + pg_temp.r(i, 5, 12))::text) AS title,
       ARRAY[pg_temp.skew(w.tags, i, 6), pg_temp.skew(w.tags, i, 7)] AS tags,
       (SELECT string_agg(replace(pg_temp.fill(pg_temp.pick(w.sentence, i * 8 + k, 8), i, 100),
                                  '{n}', (2 + pg_temp.r(i * 8 + k, 9, 12))::text), ' ' ORDER BY k)
          FROM generate_series(1, 2 + pg_temp.r(i, 10, 4)) AS k) AS body,
       now() - make_interval(secs => i * 20) AS at
  FROM generate_series(1, :n) AS i, w;
-- A title starts with a capital.
UPDATE t SET title = upper(left(title, 1)) || substr(title, 2);

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
       replace(pg_temp.fill(pg_temp.pick(w.sentence, i, 11), i, 300) || ' ' || pg_temp.fill(pg_temp.pick(w.sentence, i, 12), i, 400), '{n}', '3'),
       '<p>' || replace(pg_temp.fill(pg_temp.pick(w.sentence, i, 11), i, 300) || ' ' || pg_temp.fill(pg_temp.pick(w.sentence, i, 12), i, 400), '{n}', '3') || '</p>',
       now() - interval '1 day' + make_interval(secs => i * 60)
  FROM generate_series(1, 500) AS i, w ORDER BY i;
COMMIT;
-- As autovacuum leaves a table after a bulk load: the statistics, and the
-- search index's pending list merged into the index (a search reads all of
-- a pending list; 100,000 fresh rows leave ~10,000 entries in it).
VACUUM ANALYZE users; VACUUM ANALYZE board_threads; VACUUM ANALYZE board_posts;
