using System.Diagnostics;
using Google.Protobuf.Reflection;
using Grpc.Core;

namespace Rpc.Cli.Commands;

/// <summary>
/// The callers of one bench: each loops on its own task, taking call numbers from a shared counter
/// (Interlocked) and writing its latencies into its own slots of one array, so callers share nothing else.
/// </summary>
internal sealed class BenchRun(CallInvoker invoker, MethodDescriptor descriptor, byte[] request, Metadata headers, int maxCalls, TimeSpan duration)
{
    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);
    private readonly Method<byte[], byte[]> _method = new(MethodType.Unary, descriptor.Service.FullName, descriptor.Name, Bytes, Bytes);
    private readonly long[] _latencyTicks = new long[maxCalls];
    private int _next = -1;
    private int _completed;
    private int _failed;
    private int _firstFailure;

    public int Completed => Volatile.Read(ref _completed);

    public int Failed => Volatile.Read(ref _failed);

    public StatusCode FirstFailure => (StatusCode)Volatile.Read(ref _firstFailure);

    /// <summary>Latencies of the calls that ended, in milliseconds; read after <see cref="RunAsync"/> completes.</summary>
    public double[] LatenciesMs() => _latencyTicks.Take(Completed).Select(t => t * 1000.0 / Stopwatch.Frequency).ToArray();

    public Task RunAsync(int callers, CancellationToken cancellationToken)
    {
        var end = duration == TimeSpan.MaxValue ? long.MaxValue : Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        return Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(() => CallerAsync(end, cancellationToken), cancellationToken)));
    }

    private async Task CallerAsync(long end, CancellationToken cancellationToken)
    {
        while (Stopwatch.GetTimestamp() < end && Interlocked.Increment(ref _next) is var slot && slot < _latencyTicks.Length)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                // Each call has its own deadline, so a stalled server cannot hold a caller forever.
                await invoker.AsyncUnaryCall(_method, null, new CallOptions(headers, DateTime.UtcNow.AddSeconds(30), cancellationToken), request).ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                if (Interlocked.Increment(ref _failed) == 1)
                {
                    Volatile.Write(ref _firstFailure, (int)e.StatusCode);
                }
            }

            _latencyTicks[Interlocked.Increment(ref _completed) - 1] = Stopwatch.GetTimestamp() - started;
        }
    }
}
