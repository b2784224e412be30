//! Volume commands.

use anyhow::Result;

use crate::cli::{ForceArg, NamesArg, QuietArg, VolumeCreateArgs};
use crate::format::table;
use crate::parse;
use skiff_engine::Engine;

/// `volume create`
pub fn create(engine: &Engine, a: VolumeCreateArgs) -> Result<u8> {
    let name = a
        .name
        .unwrap_or_else(skiff_engine::containers::names::new_id);
    println!(
        "{}",
        engine.create_volume(&name, parse::labels(&a.label))?.name
    );
    Ok(0)
}

/// `volume ls`
pub fn list(engine: &Engine, a: QuietArg) -> Result<u8> {
    let volumes = engine.volumes()?;
    if a.quiet {
        volumes.iter().for_each(|v| println!("{}", v.name));
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = volumes
        .iter()
        .map(|v| vec![v.driver.clone(), v.name.clone()])
        .collect();
    print!("{}", table(&["DRIVER", "VOLUME NAME"], &rows));
    Ok(0)
}

/// `volume inspect`
pub fn inspect(engine: &Engine, a: NamesArg) -> Result<u8> {
    super::print_docs(&a.names, |n| engine.volume(n))
}

/// `volume rm`
pub fn remove(engine: &Engine, a: NamesArg) -> Result<u8> {
    Ok(super::for_each_name(&a.names, |n| engine.remove_volume(n)))
}

/// `volume prune`
pub fn prune(engine: &Engine, _: ForceArg) -> Result<u8> {
    super::print_deleted("Deleted Volumes", &engine.prune_volumes()?);
    Ok(0)
}
