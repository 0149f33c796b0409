-- ardour7-lua: a new session with a stereo audio track carrying Deep Visualizer (VST3) with its
-- Record parameter on, saved. env: BOUNCE_DIR, BOUNCE_NAME, BOUNCE_RATE
local dir, name = os.getenv("BOUNCE_DIR"), os.getenv("BOUNCE_NAME")
local rate = tonumber(os.getenv("BOUNCE_RATE") or "48000")
local function log(m) io.stderr:write("[setup] " .. m .. "\n") end

AudioEngine:set_backend("None (Dummy)", "", "")
local s = create_session(dir, name, rate)
assert(s, "create_session failed")
local t = s:new_audio_track(2, 2, nil, 1, "music", ARDOUR.PresentationInfo.max_order,
                            ARDOUR.TrackMode.Normal, true):front()
assert(t and not t:isnil(), "new_audio_track failed")
-- The automatic track -> master connection is asynchronous: connect by hand and check.
local master = s:master_out()
for c = 0, 1 do
  local port = t:output():audio(c)
  port:disconnect_all()
  assert(port:connect(master:input():audio(c):name()) == 0, "connect failed")
  assert(port:connected_to(master:input():audio(c):name()), "track not connected to master")
end
local p = ARDOUR.LuaAPI.new_plugin(s, "Deep Visualizer", ARDOUR.PluginType.VST3, "")
assert(not p:isnil(), "Deep Visualizer is not known (run ardour-vst3-scanner first)")
assert(t:add_processor_by_index(p, 0, nil, true), "add_processor_by_index failed")
-- Arm recording through the plugin's Record parameter, found by its label.
local plugin = p:to_insert():plugin(0)
local record = nil
for i = 0, plugin:parameter_count() - 1 do
  local ok, label = pcall(function() return plugin:parameter_label(i) end)
  if ok and label == "Record" then record = i end
end
assert(record, "no Record parameter")
assert(ARDOUR.LuaAPI.set_processor_param(p, record, 1), "setting Record failed")
log("Record is parameter " .. record .. ", set to on")
-- The change reaches the plugin with the next process cycles; saving before them would store
-- the plugin's state (Ardour restores that chunk on load) with Record still off.
os.execute("sleep 1")
s:save_state("", false, false, false, false, false)
log("track ready, session saved")
close_session()
quit()
