-- wrk script for GET /api/mentors: a realistic mix of directory queries.
-- The access token comes from the TOKEN environment variable.
local token = os.getenv("TOKEN")
local paths = {
  "/api/mentors",
  "/api/mentors?q=rust",
  "/api/mentors?q=distributed%20systems%20interviews",
  "/api/mentors?q=security%20engineer&minRating=4",
  "/api/mentors?skill=python&sort=experience",
  "/api/mentors?tag=interviews&minYears=10&sort=rating",
  "/api/mentors?skill=go,kubernetes",
  "/api/mentors?q=data&sort=experience&limit=50",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1], { ["Authorization"] = "Bearer " .. token })
end
response = function(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
