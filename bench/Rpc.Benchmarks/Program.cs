using BenchmarkDotNet.Running;
using Rpc.Benchmarks;

// Usage: dotnet run -c Release --project bench/Rpc.Benchmarks -- --filter '*' [--job short]
//        dotnet run -c Release --project bench/Rpc.Benchmarks -- alloc [calls]
if (args is ["alloc", ..])
{
    await AllocationProfile.RunAsync(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 100_000);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
