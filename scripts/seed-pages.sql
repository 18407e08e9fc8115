-- Seeds :n mentors (and :n / 10 mentees who hold their bookings) the way the
-- server writes them, for the page benchmark (scripts/bench-pages.sh):
--   psql -v n=10000 -v template=seed-template@bench.example -f scripts/seed-pages.sql
-- Unlike scripts/seed-mentors.sql (the API directory benchmark's data), the
-- rows are as registration, the profile editor and the calendar leave them:
--   users      as POST /api/auth/register (lower-cased email, role, the
--              password hash of the :template account, which the script
--              registers through the API, so every seeded account signs in
--              with that account's password);
--   profiles   as PUT /api/profile (skills as [{"name","level"}] with
--              skill_names lower-cased in step, tags normalised, experience,
--              certifications and projects in the serialised shape of
--              src/domain/profile.rs, IANA time zones, the search document
--              filled by the profiles_search trigger);
--   offerings  as POST /api/slots (kind 'slot', the mentor's zone, no two of
--              a mentor's slots overlapping), with the host reminders the
--              calendar schedules in the outbox;
--   bookings   as a booking does (booked_count in step, an agenda, the
--              mentee's reminders; waitlisted entries on some full slots).
-- Every value is drawn from a hash of the row number, so a seed is the same
-- every time. Slots start two days ahead or later: no reminder falls due
-- during a benchmark.
\set ON_ERROR_STOP on
BEGIN;

-- A number in [0, n) from row i and a salt.
CREATE FUNCTION pg_temp.r(i int, salt int, n int) RETURNS int LANGUAGE sql IMMUTABLE AS
  $$ SELECT ((hashint4(i * 7919 + salt * 104729) & 2147483647) % n) $$;
-- Element of an array by such a number.
CREATE FUNCTION pg_temp.pick(a text[], i int, salt int) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT a[1 + pg_temp.r(i, salt, array_length(a, 1))] $$;

CREATE TEMP TABLE lists AS SELECT
  ARRAY['Ada','Grace','Alan','Barbara','Edsger','Frances','Donald','Radia','Ken','Margaret','Aisha','Mateo',
        'Priya','Wei','Yuki','Olu','Sofia','Liam','Noah','Emma','Chidi','Fatima','Hiro','Ingrid','Javier',
        'Kwame','Lena','Maya','Nikhil','Oskar','Paula','Quentin','Rosa','Samir','Tomas','Uma','Viktor',
        'Wanjiru','Ximena','Yara','Zane','Amara','Bongani','Carmen','Dmitri','Elif','Farid','Gabriela',
        'Hamid','Isla','Jonas','Keiko','Luca','Mei','Nadia','Omar','Pedro','Rania','Sven','Tariq','Anika'] AS first,
  ARRAY['Lovelace','Hopper','Turing','Liskov','Dijkstra','Allen','Knuth','Perlman','Thompson','Hamilton',
        'Okafor','Garcia','Sharma','Zhang','Tanaka','Adeyemi','Rossi','Murphy','Silva','Nakamura','Kowalski',
        'Nguyen','Haddad','Johansson','Fernandez','Mensah','Schmidt','Cohen','Patel','Lindqvist','Moreau',
        'Dubois','Ivanova','Yilmaz','Kariuki','Santos','Novak','Kim','Park','Chen','Ali','Hussein','Mwangi',
        'Oliveira','Costa','Becker','Weber','Fischer','Horvat','Popescu','Andersen','Larsen','Reyes',
        'Mendoza','Castillo','Banerjee','Iyer','Bose','Sato'] AS last,
  ARRAY['Rust','Go','Python','Java','Kotlin','TypeScript','React','PostgreSQL','Kubernetes','AWS',
        'Machine Learning','Statistics','Product Management','System Design','Security','Networking',
        'Android','iOS','Compilers','Databases','Distributed Systems','Data Engineering','UX Design','C++',
        'Swift','Scala','Terraform','GraphQL','Deep Learning','NLP','Computer Vision','Embedded Systems',
        'DevOps','SQL','Spark','Figma','Technical Writing','Agile','Elixir','Haskell'] AS skills,
  ARRAY['interviews','careers','placements','internships','research','startups','resume','negotiation',
        'leadership','open-source','career-switch','grad-school','freelancing','promotion','public-speaking',
        'remote-work','first-job','management','portfolio','women-in-tech'] AS tags,
  ARRAY['Acme','Globex','Initech','Umbrella','Hooli','Stark Industries','Wayne Enterprises','Cyberdyne',
        'Soylent','Wonka Labs','Tyrell','Aperture','Black Mesa','Vandelay','Pied Piper','Massive Dynamic',
        'Oscorp','Gringotts','Monsters Inc','Dunder Mifflin','Nakatomi','Virtucon','Gekko & Co','Nimbus',
        'Blue Sun','Weyland','Zorg','Spacely Sprockets','Prestige Worldwide','Sirius Cybernetics'] AS employers,
  ARRAY['software engineer','data scientist','product manager','security engineer','site reliability engineer',
        'designer','engineering manager','ML engineer','backend engineer','frontend engineer','mobile engineer',
        'data engineer','researcher','architect','developer advocate'] AS roles,
  ARRAY['Junior','Senior','Staff','Principal','Lead',''] AS seniority,
  ARRAY['UTC','Europe/London','Europe/Berlin','Europe/Paris','Europe/Warsaw','Europe/Madrid','America/New_York',
        'America/Chicago','America/Denver','America/Los_Angeles','America/Sao_Paulo','America/Mexico_City',
        'Africa/Lagos','Africa/Nairobi','Africa/Johannesburg','Asia/Kolkata','Asia/Singapore','Asia/Tokyo',
        'Asia/Shanghai','Asia/Dubai','Australia/Sydney','Pacific/Auckland'] AS zones,
  ARRAY['expert','advanced','intermediate','beginner'] AS levels,
  ARRAY['','','Mock interview','Career chat','Resume review','System design practice','Office hours',
        'Portfolio review','Pairing session'] AS slot_titles;

CREATE FUNCTION pg_temp.cap(t text) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT upper(left(t, 1)) || substr(t, 2) $$;

CREATE TEMP TABLE seed AS
SELECT i,
       md5('bench-mentor-' || i)::uuid AS id,
       pg_temp.pick(l.first, i, 1) AS first,
       pg_temp.pick(l.last, i, 2) AS last,
       pg_temp.pick(l.employers, i, 3) AS employer,
       pg_temp.pick(l.roles, i, 4) AS role_title,
       pg_temp.pick(l.seniority, i, 5) AS seniority,
       pg_temp.pick(l.zones, i, 6) AS zone,
       -- Experience: most between 3 and 20 years, a few up to 40.
       least(40, pg_temp.r(i, 7, 12) + pg_temp.r(i, 8, 12) + pg_temp.r(i, 9, 2) * pg_temp.r(i, 10, 18)) AS years,
       now() - make_interval(days => pg_temp.r(i, 11, 1000), secs => pg_temp.r(i, 12, 86400)) AS created
  FROM generate_series(1, :n) AS i, lists l;

INSERT INTO users (id, email, password_hash, display_name, role, phone, created_at, updated_at)
SELECT s.id,
       lower(s.first || '.' || s.last || '.' || s.i || '@bench.example'),
       coalesce((SELECT password_hash FROM users WHERE lower(email) = lower(:'template')), '$argon2id$placeholder'),
       s.first || ' ' || s.last, 'mentor',
       CASE WHEN pg_temp.r(s.i, 13, 10) < 3 THEN '+1 555 ' || lpad((s.i % 10000)::text, 4, '0') END,
       s.created, s.created
  FROM seed s;

INSERT INTO profiles (user_id, display_name, headline, bio, skills, skill_names, tags, years_experience,
                      experience, certifications, projects, linkedin_url, github_url, time_zone, is_alumni,
                      graduation_year, employer, accepts_messages, rating_avg, rating_count, is_mentor, updated_at)
SELECT s.id, s.first || ' ' || s.last,
       left(pg_temp.cap(trim(s.seniority || ' ' || s.role_title))
            || CASE WHEN emp.employer IS NOT NULL THEN ' at ' || emp.employer ELSE '' END
            || ' · ' || sk.names[1]
            || CASE WHEN array_length(sk.names, 1) > 1 THEN ', ' || sk.names[2] ELSE '' END, 160),
       'I have spent ' || s.years || ' years as a ' || s.role_title
         || CASE WHEN emp.employer IS NOT NULL THEN ', lately at ' || emp.employer ELSE '' END
         || '. I mentor on ' || array_to_string(sk.names, ', ') || ', and on '
         || array_to_string(tg.tags, ', ') || '. '
         || (ARRAY['Bring a concrete question and we will work through it together.',
                   'I like reviewing real code, real resumes and real offers.',
                   'Happy to do mock interviews with honest, detailed feedback.',
                   'I changed careers myself and enjoy helping others do the same.',
                   'Ask me anything about growing from junior to senior.'])[1 + pg_temp.r(s.i, 14, 5)],
       sk.skills, sk.lower_names, tg.tags, s.years,
       ex.experience, ce.certifications, pr.projects,
       CASE WHEN pg_temp.r(s.i, 15, 10) < 7
            THEN 'https://www.linkedin.com/in/' || lower(s.first || '-' || s.last) || '-' || s.i END,
       CASE WHEN pg_temp.r(s.i, 16, 10) < 4
            THEN 'https://github.com/' || lower(s.first || s.last) || s.i END,
       s.zone, al.alumni, al.year, emp.employer,
       pg_temp.r(s.i, 17, 10) < 9,
       rt.avg, rt.count, true, s.created + interval '1 hour'
  FROM seed s
  CROSS JOIN lists l
  -- One in ten without an employer.
  CROSS JOIN LATERAL (SELECT CASE WHEN pg_temp.r(s.i, 18, 10) = 0 THEN NULL ELSE s.employer END AS employer) emp
  -- 2 to 6 distinct skills (a stride coprime to the list's length), the first the strongest.
  CROSS JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object('name', nm, 'level',
                       l.levels[1 + least(3, k / 2 + pg_temp.r(s.i, 20 + k, 2))]) ORDER BY k) AS skills,
           array_agg(lower(nm) ORDER BY k) AS lower_names,
           array_agg(nm ORDER BY k) AS names
      FROM (SELECT k, l.skills[1 + (pg_temp.r(s.i, 19, 40)
                    + k * (ARRAY[1,3,7,9,11,13,17,19])[1 + pg_temp.r(s.i, 27, 8)]) % 40] AS nm
              FROM generate_series(0, 1 + pg_temp.r(s.i, 28, 5)) AS k) x) sk
  -- 1 to 4 distinct tags.
  CROSS JOIN LATERAL (
    SELECT array_agg(l.tags[1 + (pg_temp.r(s.i, 29, 20)
                     + k * (ARRAY[1,3,7,9,11,13,17,19])[1 + pg_temp.r(s.i, 30, 8)]) % 20] ORDER BY k) AS tags
      FROM generate_series(0, pg_temp.r(s.i, 31, 4)) AS k) tg
  -- The current job and one or two before it.
  CROSS JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object(
             'title', pg_temp.cap(CASE WHEN k = 0 THEN trim(s.seniority || ' ' || s.role_title) ELSE pg_temp.pick(l.roles, s.i, 40 + k) END),
             'organization', CASE WHEN k = 0 THEN coalesce(emp.employer, 'Independent') ELSE pg_temp.pick(l.employers, s.i, 43 + k) END,
             'start', to_char(now() - make_interval(months => (k + 1) * (6 + s.years * 12 / 3)), 'YYYY-MM'),
             'end', CASE WHEN k = 0 THEN NULL ELSE to_char(now() - make_interval(months => k * (6 + s.years * 12 / 3)), 'YYYY-MM') END,
             'description', CASE WHEN k = 0 THEN 'Working on ' || pg_temp.pick(l.skills, s.i, 46) || ' day to day.' END)
           ORDER BY k) AS experience
      FROM generate_series(0, least(2, s.years / 6)) AS k) ex
  CROSS JOIN LATERAL (
    SELECT CASE WHEN pg_temp.r(s.i, 50, 10) < 3
      THEN jsonb_build_array(jsonb_build_object('name', pg_temp.pick(ARRAY['AWS Certified Solutions Architect',
             'Certified Kubernetes Administrator','CISSP','Google Professional Data Engineer','PMP',
             'Azure Developer Associate'], s.i, 51), 'issuer', NULL, 'year', 2015 + pg_temp.r(s.i, 52, 11), 'url', NULL))
      ELSE '[]'::jsonb END AS certifications) ce
  CROSS JOIN LATERAL (
    SELECT CASE WHEN pg_temp.r(s.i, 53, 10) < 2
      THEN jsonb_build_array(jsonb_build_object('name', lower(pg_temp.pick(l.skills, s.i, 54)) || '-toolkit',
             'description', 'An open-source side project.', 'url', 'https://github.com/' || lower(s.first || s.last) || s.i))
      ELSE '[]'::jsonb END AS projects) pr
  CROSS JOIN LATERAL (
    SELECT pg_temp.r(s.i, 55, 10) < 4 AS alumni,
           CASE WHEN pg_temp.r(s.i, 55, 10) < 4 THEN greatest(1980, 2025 - s.years - pg_temp.r(s.i, 56, 4)) END AS year) al
  -- One in six is new (no reviews yet); the rest between 3.0 and 5.0, most above 4.
  CROSS JOIN LATERAL (
    SELECT CASE WHEN pg_temp.r(s.i, 57, 6) = 0 THEN 0::float8
                ELSE round((5.0 - (pg_temp.r(s.i, 58, 21) * pg_temp.r(s.i, 59, 21)) / 200.0)::numeric, 1)::float8 END AS avg,
           CASE WHEN pg_temp.r(s.i, 57, 6) = 0 THEN 0 ELSE 1 + pg_temp.r(s.i, 60, 40) * (1 + pg_temp.r(s.i, 61, 5)) END AS count) rt;

-- Mentees who hold the seeded bookings (one for every ten mentors).
INSERT INTO users (id, email, password_hash, display_name, role, created_at, updated_at)
SELECT md5('bench-mentee-' || i)::uuid, 'mentee.' || i || '@bench.example',
       coalesce((SELECT password_hash FROM users WHERE lower(email) = lower(:'template')), '$argon2id$placeholder'),
       pg_temp.pick(l.first, i, 70) || ' ' || pg_temp.pick(l.last, i, 71), 'mentee', now() - interval '30 days',
       now() - interval '30 days'
  FROM generate_series(1, greatest(10, :n / 10)) AS i, lists l;
INSERT INTO profiles (user_id, display_name, is_mentor)
SELECT u.id, u.display_name, false FROM users u WHERE u.email LIKE 'mentee.%@bench.example';

-- Upcoming slots: one mentor in three has 1 to 4, each on its own day (so
-- no two overlap), two days ahead or later, 30 to 60 minutes, most
-- one-on-one; a share partly or fully booked.
CREATE TEMP TABLE seed_slots AS
SELECT md5('bench-slot-' || s.i || '-' || j)::uuid AS id, s.id AS mentor_id, s.i, j, s.zone,
       pg_temp.pick(l.slot_titles, s.i * 7 + j, 80) AS title,
       date_trunc('hour', now()) + make_interval(days => 2 + j * 3 + pg_temp.r(s.i, 81 + j, 3),
                                                 hours => 6 + pg_temp.r(s.i, 85 + j, 12)) AS starts_at,
       (ARRAY[30, 45, 60, 60])[1 + pg_temp.r(s.i, 89 + j, 4)] AS minutes,
       CASE WHEN pg_temp.r(s.i, 93 + j, 10) < 7 THEN 1 ELSE 2 + pg_temp.r(s.i, 97 + j, 5) END AS capacity
  FROM seed s, lists l, generate_series(0, 3) AS j
 WHERE pg_temp.r(s.i, 79, 3) = 0 AND j <= pg_temp.r(s.i, 78, 4);

-- How many seats each slot has taken: none for half, some or all for the rest.
CREATE TEMP TABLE seed_taken AS
SELECT id, CASE WHEN pg_temp.r(i, 101 + j, 2) = 0 THEN 0
                ELSE 1 + pg_temp.r(i, 105 + j, capacity) END AS taken,
       -- Full slots may have a waitlist.
       pg_temp.r(i, 109 + j, 3) AS waiting
  FROM seed_slots;

INSERT INTO offerings (id, mentor_id, kind, title, description, category, tags, starts_at, ends_at, capacity,
                       booked_count, waitlist_next, price_credits, time_zone, created_at, updated_at)
SELECT ss.id, ss.mentor_id, 'slot', ss.title,
       CASE WHEN ss.title = '' THEN '' ELSE 'Bring your questions; we will go through them one by one.' END,
       NULL, '{}', ss.starts_at, ss.starts_at + make_interval(mins => ss.minutes), ss.capacity,
       t.taken, CASE WHEN t.taken = ss.capacity THEN t.waiting ELSE 0 END, 0, ss.zone,
       now() - interval '3 days', now() - interval '1 day'
  FROM seed_slots ss JOIN seed_taken t USING (id);

-- The host's reminders (the calendar schedules them when a slot is created).
INSERT INTO outbox (kind, dedupe_key, user_id, payload, due_at)
SELECT 'reminder', 'reminder:' || ss.id || ':host:' || r.label, ss.mentor_id,
       jsonb_build_object('offeringId', ss.id, 'bookingId', NULL,
                          'startsAt', to_char(ss.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                          'title', ss.title, 'before', r.label),
       ss.starts_at - make_interval(mins => r.minutes)
  FROM seed_slots ss, (VALUES ('24h', 1440), ('15m', 15)) AS r(label, minutes);

-- Confirmed seats, then the waitlist of full slots, each by a distinct mentee.
CREATE TEMP TABLE seed_bookings AS
SELECT md5('bench-booking-' || ss.id || '-' || k)::uuid AS id, ss.id AS offering_id, ss.starts_at, ss.title,
       md5('bench-mentee-' || (1 + (ss.i * 4 + ss.j * 7 + k) % greatest(10, :n / 10)))::uuid AS mentee_id,
       CASE WHEN k < t.taken THEN 'confirmed' ELSE 'waitlisted' END AS status,
       CASE WHEN k < t.taken THEN NULL ELSE k - t.taken + 1 END AS seq
  FROM seed_slots ss JOIN seed_taken t USING (id),
       generate_series(0, t.taken + (CASE WHEN t.taken = ss.capacity THEN t.waiting ELSE 0 END) - 1) AS k;

INSERT INTO bookings (id, offering_id, mentee_id, status, waitlist_seq, agenda, booked_at, confirmed_at)
SELECT b.id, b.offering_id, b.mentee_id, b.status, b.seq,
       jsonb_build_object('goals', 'Get feedback on my plan for the next six months.',
                          'questions', jsonb_build_array('What should I learn first?', 'How do I prepare?')),
       now() - interval '2 days', CASE WHEN b.status = 'confirmed' THEN now() - interval '2 days' END
  FROM seed_bookings b;

INSERT INTO outbox (kind, dedupe_key, user_id, payload, due_at)
SELECT 'reminder', 'reminder:' || b.id || ':' || r.label, b.mentee_id,
       jsonb_build_object('offeringId', b.offering_id, 'bookingId', b.id,
                          'startsAt', to_char(b.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                          'title', b.title, 'before', r.label),
       b.starts_at - make_interval(mins => r.minutes)
  FROM seed_bookings b, (VALUES ('24h', 1440), ('15m', 15)) AS r(label, minutes)
 WHERE b.status = 'confirmed';

COMMIT;
ANALYZE users;
ANALYZE profiles;
ANALYZE offerings;
ANALYZE bookings;
ANALYZE outbox;
