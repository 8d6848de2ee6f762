using System.Diagnostics;
using Google.Protobuf;

namespace Rpc.Benchmarks;

/// <summary>
/// The large-message scenarios (issue 13): 1 MiB and 16 MiB unary echoes and a 64 MiB server
/// stream of 1 MiB chunks, each reported in MB/s with the bytes each process allocates per call.
/// The two biggest run a fixed handful of calls rather than for the scenario duration, so ten targets
/// add seconds, not minutes, to a full run.
/// </summary>
public sealed partial class Scenarios
{
    private const int MiB = 1 << 20;
    private const int HugeEchoSize = 16 * MiB;
    private const int HugeEchoCalls = 5;
    private const int StreamChunk = MiB;
    private const int StreamChunks = 64;
    private const int StreamCalls = 3;

    // Generous: the slowest target moves well over 100 MB/s, so a call taking a minute is a hang.
    private static readonly TimeSpan LargeCallDeadline = TimeSpan.FromSeconds(60);

    private static readonly ByteString PayloadMiB = ByteString.CopyFrom(new byte[MiB]);
    private static readonly Lazy<ByteString> Payload16MiB = new(() => ByteString.CopyFrom(new byte[HugeEchoSize]));

    public async Task<Measurement> LargeUnaryAsync(Target target)
    {
        var request = new BenchRequest { Payload = PayloadMiB, ResponseSize = MiB };
        await CheckUnaryAsync(target, request, MiB);
        await RunForAsync(_warmup, async () => await target.Client.UnaryAsync(request));
        var allocations = await AllocationProbe.StartAsync(_stats);
        var calls = await RunForAsync(_duration, async () => await target.Client.UnaryAsync(request));
        var perCall = await allocations.StopAsync(calls);
        // Both directions carry 1 MiB per call.
        return new Measurement("unary 1 MiB echo", target.Name, calls * 2.0 * MiB / 1e6 / _duration.TotalSeconds, "MB/s", true,
            AllocationProbe.Details(perCall));
    }

    public async Task<Measurement> HugeUnaryAsync(Target target)
    {
        var request = new BenchRequest { Payload = Payload16MiB.Value, ResponseSize = HugeEchoSize };
        // The check is also the warm-up: it takes every buffer the size of the message once.
        await CheckUnaryAsync(target, request, HugeEchoSize);
        var allocations = await AllocationProbe.StartAsync(_stats);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < HugeEchoCalls; i++)
        {
            var reply = await target.Client.UnaryAsync(request, deadline: DateTime.UtcNow.Add(LargeCallDeadline));
            ExpectSize(target, reply.Payload.Length, HugeEchoSize);
        }

        var elapsed = clock.Elapsed;
        var perCall = await allocations.StopAsync(HugeEchoCalls);
        return new Measurement("unary 16 MiB echo", target.Name, HugeEchoCalls * 2.0 * HugeEchoSize / 1e6 / elapsed.TotalSeconds, "MB/s", true,
            AllocationProbe.Details(perCall));
    }

    public async Task<Measurement> LargeServerStreamAsync(Target target)
    {
        var request = new BenchRequest { ResponseSize = StreamChunk, Count = StreamChunks };
        await ReceiveStreamAsync(target, request);
        var allocations = await AllocationProbe.StartAsync(_stats);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < StreamCalls; i++)
        {
            await ReceiveStreamAsync(target, request);
        }

        var elapsed = clock.Elapsed;
        var perCall = await allocations.StopAsync(StreamCalls);
        return new Measurement("server stream 64 MiB in 1 MiB chunks", target.Name, StreamCalls * (double)StreamChunks * StreamChunk / 1e6 / elapsed.TotalSeconds, "MB/s", true,
            AllocationProbe.Details(perCall));
    }

    /// <summary>Reads one whole 64 MiB stream and checks that every chunk came, whole.</summary>
    private static async Task ReceiveStreamAsync(Target target, BenchRequest request)
    {
        using var call = target.Client.ServerStream(request, deadline: DateTime.UtcNow.Add(LargeCallDeadline));
        long bytes = 0;
        var chunks = 0;
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            ExpectSize(target, call.ResponseStream.Current.Payload.Length, request.ResponseSize);
            bytes += call.ResponseStream.Current.Payload.Length;
            chunks++;
        }

        if (chunks != request.Count || bytes != (long)request.Count * request.ResponseSize)
        {
            throw new InvalidOperationException($"{target.Name}: expected {request.Count} chunks of {request.ResponseSize} bytes, got {chunks} ({bytes} bytes).");
        }
    }

    private static void ExpectSize(Target target, int actual, int expected)
    {
        if (actual != expected)
        {
            throw new InvalidOperationException($"{target.Name}: expected a {expected}-byte message, got {actual}.");
        }
    }
}
