-- Seeds :n mentors with varied profiles for benchmarks (psql -v n=10000 -f ...).
-- Passwords are not usable (the hash is a placeholder); these accounts only
-- populate the directory.
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE words (w text[]);
INSERT INTO words VALUES (ARRAY[
  'Rust','Go','Python','Java','Kotlin','TypeScript','React','Postgres','Kubernetes','AWS',
  'Machine Learning','Statistics','Product Management','System Design','Security','Networking',
  'Android','iOS','Compilers','Databases','Distributed Systems','Data Engineering','UX Design','C++']);
INSERT INTO users (id, email, password_hash, display_name, role)
SELECT md5('mentor' || i)::uuid, 'mentor' || i || '@bench.example', '$argon2id$placeholder',
       (ARRAY['Ada','Grace','Alan','Barbara','Edsger','Frances','Donald','Radia','Ken','Margaret'])[1 + i % 10]
         || ' ' || (ARRAY['Lovelace','Hopper','Turing','Liskov','Dijkstra','Allen','Knuth','Perlman','Thompson','Hamilton'])[1 + (i / 10) % 10]
         || ' ' || i,
       'mentor'
  FROM generate_series(1, :n) AS i;
INSERT INTO profiles (user_id, display_name, headline, bio, skills, skill_names, tags, years_experience,
                      rating_avg, rating_count, employer, is_alumni, graduation_year, time_zone, is_mentor)
SELECT md5('mentor' || i)::uuid,
       (SELECT display_name FROM users WHERE id = md5('mentor' || i)::uuid),
       (ARRAY['Senior','Staff','Principal','Lead','Junior'])[1 + i % 5] || ' '
         || (ARRAY['software engineer','data scientist','product manager','security engineer','SRE','designer'])[1 + i % 6]
         || ' focused on ' || w[1 + i % 24],
       'I mentor students on ' || w[1 + (i * 7) % 24] || ' and ' || w[1 + (i * 11) % 24]
         || ', interviews, internships and placements. Ask me about careers in ' || w[1 + (i * 13) % 24] || '.',
       jsonb_build_array(
         jsonb_build_object('name', w[1 + i % 24], 'level', 'expert'),
         jsonb_build_object('name', w[1 + (i * 7) % 24], 'level', 'advanced'),
         jsonb_build_object('name', w[1 + (i * 11) % 24], 'level', 'intermediate')),
       ARRAY[lower(w[1 + i % 24]), lower(w[1 + (i * 7) % 24]), lower(w[1 + (i * 11) % 24])],
       ARRAY[(ARRAY['interviews','careers','placements','internships','research','startups'])[1 + i % 6],
             (ARRAY['resume','negotiation','leadership','open-source'])[1 + i % 4]],
       i % 31,
       round((2.5 + (i % 26) / 10.0)::numeric, 1)::float8,
       i % 97,
       (ARRAY['Acme','Globex','Initech','Umbrella','Hooli','Stark'])[1 + i % 6],
       i % 2 = 0, 1990 + i % 35, 'UTC', true
  FROM generate_series(1, :n) AS i, words;
COMMIT;
ANALYZE users;
ANALYZE profiles;
