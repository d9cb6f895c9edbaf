pub mod cri;
pub mod rotate;
pub mod runc;
pub mod size;
pub mod time;
