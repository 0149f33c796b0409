//! A saved project's plugin state, loaded through the CLAP state extension as a DAW does:
//! nice-plug's JSON, our migration of old and damaged session fields, every parameter and
//! persisted field. A state that loads must save again and load again.
#![no_main]

use std::cell::RefCell;
use std::ffi::CStr;

use clack_extensions::state::PluginState;
use clack_host::prelude::*;
use libfuzzer_sys::fuzz_target;

const PLUGIN_ID: &CStr = c"com.deep-visualizer.deep-visualizer";

struct FuzzHostShared;

impl SharedHandler<'_> for FuzzHostShared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

struct FuzzHost;

impl HostHandlers for FuzzHost {
    type Shared<'a> = FuzzHostShared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();
}

thread_local! {
    /// One instance for the whole run: hosts load many states into one instance too.
    static INSTANCE: RefCell<PluginInstance<FuzzHost>> = RefCell::new(new_instance());
}

fn new_instance() -> PluginInstance<FuzzHost> {
    // SAFETY: the entry is our own plugin's, linked into this binary; clack's descriptor is the
    // same C struct (CLAP's `clap_plugin_entry`) under another crate's name.
    let entry = unsafe {
        let descriptor = &*(std::ptr::addr_of!(deep_visualizer::clap_entry)
            as *const clack_host::entry::EntryDescriptor);
        PluginEntry::load_from_raw(descriptor, c"/fuzz/deep_visualizer.clap")
    }
    .expect("the linked plugin entry initialises");
    let host_info = HostInfo::new("deep-visualizer fuzz", "fuzz", "", "0.1").expect("host info");
    PluginInstance::<FuzzHost>::new(|_| FuzzHostShared, |_| (), &entry, PLUGIN_ID, &host_info)
        .expect("the plugin instantiates")
}

fuzz_target!(|data: &[u8]| {
    INSTANCE.with_borrow_mut(|instance| {
        let handle = instance.plugin_handle();
        let state: PluginState = handle.get_extension().expect("state extension");
        if state
            .load(&handle, &mut std::io::Cursor::new(data))
            .is_err()
        {
            return;
        }
        let mut saved = Vec::new();
        state
            .save(&handle, &mut saved)
            .expect("a state that loaded saves");
        state
            .load(&handle, &mut std::io::Cursor::new(&saved))
            .expect("a state the plugin saved loads");
    });
});
