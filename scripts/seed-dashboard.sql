-- One busy mentor for the expert dashboard's benchmark (scripts/bench-mentoring.sh),
-- run after scripts/seed-pages.sql (its mentees hold the bookings):
--   psql -v template=seed-template@bench.example -f scripts/seed-dashboard.sql
-- "Busy Mentor" (busy.mentor@bench.example, the :template account's password)
-- with 1,000 past sessions: 900 one-on-one slots and 100 group sessions of
-- 3 to 10 seats, one every 20 hours back from yesterday (no two overlap),
-- 30 to 90 minutes; most completed, some left 'scheduled' as a session
-- nobody closed; each with its confirmed bookings (a few cancelled), 85 %
-- of them attended (by the live room or marked by the mentor); a mentee's
-- review of the mentor on 60 % of the attended bookings (1 to 5 stars,
-- most 4 or 5) and the mentor's review of the mentee on 30 %; the
-- profile's rating recomputed from those reviews as a review does
-- (src/routes/reviews.rs `recount`). Besides: 12 upcoming slots, 8 pending
-- mentorship requests and 20 decided ones. Rows as the server writes them;
-- every value from a hash of the row number, so the seed is the same
-- every time.
\set ON_ERROR_STOP on
BEGIN;

CREATE FUNCTION pg_temp.r(i int, salt int, n int) RETURNS int LANGUAGE sql IMMUTABLE AS
  $$ SELECT ((hashint4(i * 7919 + salt * 104729) & 2147483647) % n) $$;

-- The mentees of scripts/seed-pages.sql (md5('bench-mentee-' || i), i from 1).
CREATE TEMP TABLE mentees AS
SELECT row_number() OVER (ORDER BY id)::int AS k, id FROM users WHERE email LIKE 'mentee.%@bench.example';
DO $$ BEGIN
  IF (SELECT count(*) FROM mentees) < 10 THEN RAISE EXCEPTION 'seed the mentors first (scripts/seed-pages.sql)'; END IF;
END $$;

INSERT INTO users (id, email, password_hash, display_name, role, created_at, updated_at)
SELECT md5('busy-mentor')::uuid, 'busy.mentor@bench.example',
       coalesce((SELECT password_hash FROM users WHERE lower(email) = lower(:'template')), '$argon2id$placeholder'),
       'Busy Mentor', 'mentor', now() - interval '3 years', now() - interval '3 years';
INSERT INTO profiles (user_id, display_name, headline, bio, skills, skill_names, tags, years_experience,
                      time_zone, is_mentor, updated_at)
VALUES (md5('busy-mentor')::uuid, 'Busy Mentor', 'Staff engineer at Hooli · System Design, Rust',
        'Three years of weekly sessions on system design, Rust and interviews.',
        '[{"name": "System Design", "level": "expert"}, {"name": "Rust", "level": "advanced"},
          {"name": "Interviews", "level": "expert"}]'::jsonb,
        ARRAY['system design', 'rust', 'interviews'], ARRAY['interviews', 'careers'], 15, 'Europe/Berlin', true,
        now() - interval '3 years');

-- The past sessions.
CREATE TEMP TABLE past AS
SELECT i,
       md5('busy-past-' || i)::uuid AS id,
       CASE WHEN i % 10 = 0 THEN 'group' ELSE 'slot' END AS kind,
       CASE WHEN i % 10 = 0 THEN 3 + pg_temp.r(i, 1, 8) ELSE 1 END AS capacity,
       date_trunc('hour', now()) - interval '1 day' - make_interval(hours => i * 20) AS starts_at,
       (ARRAY[30, 45, 60, 90])[1 + pg_temp.r(i, 2, 4)] AS minutes,
       CASE WHEN pg_temp.r(i, 3, 10) < 8 THEN 'completed' ELSE 'scheduled' END AS state
  FROM generate_series(1, 1000) AS i;

-- Seats taken: all of a slot's; 2 to all of a group's; k-th seat by a distinct mentee.
CREATE TEMP TABLE seats AS
SELECT p.i, p.id AS offering_id, p.starts_at, p.minutes, g.seat AS k,
       md5('busy-booking-' || p.i || '-' || g.seat)::uuid AS id,
       (SELECT m.id FROM mentees m WHERE m.k = 1 + (p.i * 13 + g.seat * 101) % (SELECT count(*) FROM mentees)) AS mentee_id,
       CASE WHEN pg_temp.r(p.i, 10 + g.seat, 20) = 0 THEN 'cancelled' ELSE 'confirmed' END AS status,
       pg_temp.r(p.i, 30 + g.seat, 100) < 85 AS attended
  FROM past p, generate_series(0, 9) AS g(seat)
 WHERE g.seat < CASE WHEN p.kind = 'group' THEN 2 + pg_temp.r(p.i, 4, p.capacity - 1) ELSE 1 END;

INSERT INTO offerings (id, mentor_id, kind, title, description, category, tags, starts_at, ends_at, capacity,
                       booked_count, price_credits, time_zone, state, created_at, updated_at)
SELECT p.id, md5('busy-mentor')::uuid, p.kind,
       CASE WHEN p.kind = 'group' THEN (ARRAY['System design clinic', 'Interview Q&A', 'Rust office hours'])[1 + pg_temp.r(p.i, 5, 3)]
            ELSE (ARRAY['', 'Mock interview', 'Career chat', 'Resume review'])[1 + pg_temp.r(p.i, 6, 4)] END,
       '', CASE WHEN p.kind = 'group' THEN 'interviews' END, '{}', p.starts_at,
       p.starts_at + make_interval(mins => p.minutes), p.capacity,
       (SELECT count(*) FROM seats s WHERE s.offering_id = p.id AND s.status = 'confirmed'),
       0, 'Europe/Berlin', p.state, p.starts_at - interval '7 days', p.starts_at + make_interval(mins => p.minutes)
  FROM past p;

INSERT INTO bookings (id, offering_id, mentee_id, status, agenda, booked_at, confirmed_at, cancelled_at,
                      attended_at, attended_source)
SELECT s.id, s.offering_id, s.mentee_id, s.status,
       jsonb_build_object('goals', 'Practise for my next interview.', 'questions', jsonb_build_array('How did I do?')),
       s.starts_at - interval '3 days', s.starts_at - interval '3 days',
       CASE WHEN s.status = 'cancelled' THEN s.starts_at - interval '1 day' END,
       CASE WHEN s.status = 'confirmed' AND s.attended THEN s.starts_at + interval '2 minutes' END,
       CASE WHEN s.status = 'confirmed' AND s.attended THEN (ARRAY['live', 'mentor'])[1 + pg_temp.r(s.i, 50 + s.k, 2)] END
  FROM seats s;

-- Reviews of attended bookings: the mentee's of the mentor, the mentor's of the mentee.
INSERT INTO reviews (id, booking_id, offering_id, subject_role, reviewer_id, subject_id, rating, body,
                     created_at, updated_at)
SELECT md5('busy-review-' || s.i || '-' || s.k)::uuid, s.id, s.offering_id, 'mentor', s.mentee_id,
       md5('busy-mentor')::uuid,
       (ARRAY[5, 5, 5, 4, 4, 4, 3, 5, 4, 2, 5, 1])[1 + pg_temp.r(s.i, 60 + s.k, 12)],
       (ARRAY['', 'Very helpful.', 'Clear feedback on my design.', 'Good questions, I learned a lot.'])[1 + pg_temp.r(s.i, 70 + s.k, 4)],
       s.starts_at + interval '1 day', s.starts_at + interval '1 day'
  FROM seats s WHERE s.status = 'confirmed' AND s.attended AND pg_temp.r(s.i, 80 + s.k, 10) < 6;
INSERT INTO reviews (id, booking_id, offering_id, subject_role, reviewer_id, subject_id, rating, body,
                     created_at, updated_at)
SELECT md5('busy-review-mentee-' || s.i || '-' || s.k)::uuid, s.id, s.offering_id, 'mentee', md5('busy-mentor')::uuid,
       s.mentee_id, 3 + pg_temp.r(s.i, 90 + s.k, 3), 'Well prepared.', s.starts_at + interval '2 days',
       s.starts_at + interval '2 days'
  FROM seats s WHERE s.status = 'confirmed' AND s.attended AND pg_temp.r(s.i, 100 + s.k, 10) < 3;
UPDATE profiles p SET rating_count = a.n, rating_avg = a.avg, rating_dist = a.dist
  FROM (SELECT count(*)::int AS n, coalesce(avg(rating), 0)::float8 AS avg,
               ARRAY[count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2),
                     count(*) FILTER (WHERE rating = 3), count(*) FILTER (WHERE rating = 4),
                     count(*) FILTER (WHERE rating = 5)]::int[] AS dist
          FROM reviews WHERE subject_id = md5('busy-mentor')::uuid AND subject_role = 'mentor') a
 WHERE p.user_id = md5('busy-mentor')::uuid;

-- Upcoming: 12 slots, one a day from two days ahead, half of them booked.
INSERT INTO offerings (id, mentor_id, kind, title, starts_at, ends_at, capacity, booked_count, time_zone,
                       created_at, updated_at)
SELECT md5('busy-next-' || j)::uuid, md5('busy-mentor')::uuid, 'slot', 'Mock interview',
       date_trunc('hour', now()) + make_interval(days => 2 + j, hours => 3),
       date_trunc('hour', now()) + make_interval(days => 2 + j, hours => 4), 1, (j % 2), 'Europe/Berlin',
       now() - interval '1 day', now() - interval '1 day'
  FROM generate_series(0, 11) AS j;
INSERT INTO bookings (id, offering_id, mentee_id, status, booked_at, confirmed_at)
SELECT md5('busy-next-booking-' || j)::uuid, md5('busy-next-' || j)::uuid,
       (SELECT m.id FROM mentees m WHERE m.k = 1 + j), 'confirmed', now() - interval '1 day', now() - interval '1 day'
  FROM generate_series(0, 11) AS j WHERE j % 2 = 1;

-- Mentorship requests: 8 pending, 20 decided (accepted, declined or ended).
INSERT INTO mentorships (id, mentor_id, mentee_id, status, start_date, end_date, goals, created_at, decided_at, ended_at)
SELECT md5('busy-mentorship-' || j)::uuid, md5('busy-mentor')::uuid, (SELECT m.id FROM mentees m WHERE m.k = 20 + j),
       CASE WHEN j < 8 THEN 'pending' ELSE (ARRAY['accepted', 'declined', 'ended'])[1 + j % 3] END,
       current_date + 7, current_date + 97, 'Get ready for system design interviews in three months.',
       now() - make_interval(days => 28 - j), CASE WHEN j >= 8 THEN now() - make_interval(days => 27 - j) END,
       CASE WHEN j >= 8 AND j % 3 = 2 THEN now() - make_interval(days => 1) END
  FROM generate_series(0, 27) AS j;

COMMIT;
ANALYZE offerings; ANALYZE bookings; ANALYZE reviews; ANALYZE mentorships; ANALYZE profiles;
