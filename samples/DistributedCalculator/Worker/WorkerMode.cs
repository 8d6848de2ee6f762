using System.Runtime.InteropServices;
using DistributedCalculator.Protos;
using Rpc.Server;

namespace DistributedCalculator.Worker;

/// <summary>
/// <c>DistributedCalculator worker ...</c>: serves <see cref="PrimeWorker"/> (and server reflection,
/// so <c>rpc list</c> and <c>rpc call</c> reach it) until a signal, its parent going, or, with
/// --exit-with-stdin, stdin closing. Prints <c>LISTENING address</c> for each bound address.
/// </summary>
public static class WorkerMode
{
    /// <summary>Runs the worker; returns the process's exit code.</summary>
    public static async Task<int> RunAsync(WorkerOptions options)
    {
        await using var server = new RpcServer(new RpcServerOptions { ShutdownTimeout = TimeSpan.FromSeconds(3) });
        var name = options.ParentPipes ? "child pipes" : string.Join(", ", options.Addresses);
        server.AddService(new PrimeWorkerService(options, name));
        server.AddService(new Grpc.Reflection.ReflectionServiceImpl(PrimeWorker.Descriptor, Grpc.Reflection.V1Alpha.ServerReflection.Descriptor));
        foreach (var address in options.Addresses)
        {
            server.Listen(address);
        }

        if (options.ParentPipes)
        {
            server.ListenOnParentPipes();
        }

        var stop = new TaskCompletionSource();
        using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        // Compiled before the first segment arrives, so the first answer is not slower than the rest.
        Primes.SegmentSieve.Count(0, 1000);
        await server.StartAsync();
        foreach (var address in server.BoundAddresses)
        {
            Console.Out.WriteLine($"LISTENING {address}");
        }

        Console.Out.Flush();
        var ends = new List<Task> { stop.Task };
        if (options.ParentPipes)
        {
            ends.Add(server.ParentDisconnected);
        }

        if (options.ExitWithStdin)
        {
            ends.Add(Task.Run(DrainStdinAsync));
        }

        await Task.WhenAny(ends);
        await server.ShutdownAsync();
        return 0;

        // Nothing is expected on stdin; whatever comes is dropped through a small buffer until it ends,
        // which happens when the coordinator closes its end or dies.
        static async Task DrainStdinAsync()
        {
            await using var input = Console.OpenStandardInput();
            var buffer = new byte[256];
            while (await input.ReadAsync(buffer) > 0)
            {
            }
        }

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult();
        }
    }
}
