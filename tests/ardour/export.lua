-- ardour7-lua: load the session and export (bounce) its range, which Ardour runs in freewheel;
-- then keep the session (and so the plugin) loaded until the plugin's take renderer has written
-- the take's video, up to BOUNCE_WAIT_S seconds.
-- env: BOUNCE_DIR, BOUNCE_NAME, BOUNCE_OUT_DIR, BOUNCE_PRESET, BOUNCE_TAKES_DIR, BOUNCE_WAIT_S
local dir, name = os.getenv("BOUNCE_DIR"), os.getenv("BOUNCE_NAME")
local function log(m) io.stderr:write("[export] " .. m .. "\n") end
AudioEngine:set_backend("None (Dummy)", "", "")
local s = load_session(dir, name)
assert(s, "load_session failed")
local e = s:simple_export()
e:set_name("bounce")
e:set_folder(os.getenv("BOUNCE_OUT_DIR"))
assert(e:set_preset(os.getenv("BOUNCE_PRESET")), "set_preset failed")
local ok = e:run_export()
log("run_export -> " .. tostring(ok))
assert(ok, "export failed")
local takes = os.getenv("BOUNCE_TAKES_DIR")
local wait_s = tonumber(os.getenv("BOUNCE_WAIT_S") or "300")
for _ = 1, wait_s do
  local found = io.popen('ls "' .. takes .. '"/*.take/render.json 2>/dev/null'):read("*a")
  if found ~= "" then log("the take is rendered"); break end
  os.execute("sleep 1")
end
close_session()
quit()
