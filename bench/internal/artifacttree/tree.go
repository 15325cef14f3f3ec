package artifacttree

// KernelPath is the in-image path of the kernel every image holds;
// ConfigPath that of urunc.json, which names it.
const (
	KernelPath = "/.boot/kernel"
	ConfigPath = "/urunc.json"
)

// Paths are the in-image paths every benchmark mount serves.
var Paths = []string{KernelPath, ConfigPath}
