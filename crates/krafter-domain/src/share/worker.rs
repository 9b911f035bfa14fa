pub struct DeliveryWorker;
pub enum DeliveryOutcome {}
