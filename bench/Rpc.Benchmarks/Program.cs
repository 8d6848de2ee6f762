using BenchmarkDotNet.Running;

// Usage: dotnet run -c Release --project bench/Rpc.Benchmarks -- --filter '*' [--job short]
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
