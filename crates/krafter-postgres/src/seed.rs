pub struct SyntheticSpec;
