using DistributedCalculator.Coordinator;
using DistributedCalculator.Worker;

// Usage:
//   DistributedCalculator worker [ADDRESS ...] [--parent-pipes] [--exit-with-stdin] [--delay MS] [--hold first|all]
//   DistributedCalculator [coordinator] [--limit N] [--segments S] [--pipes K] [--spawn ADDRESS ...] [--worker ADDRESS ...]
//                         [--segment-deadline 10s] [--connect-deadline 30s] [--max-timeouts 2] [--timeout 5m]
try
{
    return args switch
    {
        ["worker", .. var rest] => await WorkerMode.RunAsync(WorkerOptions.Parse(rest)),
        ["coordinator", .. var rest] => await CoordinatorMode.RunAsync(CoordinatorOptions.Parse(rest)),
        ["--help" or "-h", ..] => Usage(),
        _ => await CoordinatorMode.RunAsync(CoordinatorOptions.Parse(args)),
    };
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync("error: " + e.Message);
    Usage();
    return 2;
}

static int Usage()
{
    Console.Error.WriteLine("""
        DistributedCalculator: counts and sums the primes below a limit across worker processes.
          coordinator (default):
            --limit N              primes below N (default 100000000, at most 1000000000)
            --segments S           pieces of work (default 50)
            --pipes K              K child workers over anonymous pipes (default 2 when no other worker is given)
            --spawn ADDRESS        a child worker listening on ADDRESS (unix://, shm://, tcp://127.0.0.1:0, ...); repeatable
            --worker ADDRESS       a running worker at ADDRESS; repeatable
            --segment-deadline T   per-segment deadline (default 10s); a late segment goes to another worker
            --connect-deadline T   how long a worker has to answer its first call (default 30s)
            --max-timeouts M       deadlines missed in a row before a worker is dropped (default 2)
            --timeout T            bound on the whole run (default 5m)
          worker ADDRESS ... [--parent-pipes] [--exit-with-stdin] [--delay MS] [--hold first|all]
        Exit code 0 only when the result equals a single-process computation.
        """);
    return 0;
}
