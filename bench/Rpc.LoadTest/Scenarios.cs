using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using HdrHistogram;

namespace Rpc.Benchmarks;

/// <summary>One measurement: a value, its unit, and whether bigger is better.</summary>
public sealed record Measurement(string Scenario, string Target, double Value, string Unit, bool HigherIsBetter, IReadOnlyDictionary<string, double>? Details = null);

/// <summary>
/// The scenarios. Each checks one real response first (so a broken path cannot post a fast number),
/// warms up, then measures for a bounded time.
/// </summary>
public sealed partial class Scenarios
{
    private static readonly ByteString Payload64 = ByteString.CopyFrom(new byte[64]);

    private readonly TimeSpan _warmup;
    private readonly TimeSpan _duration;
    private readonly Process _server;
    private readonly BenchStats.BenchStatsClient? _stats;

    /// <param name="stats">The server process's allocation counter, for the large-message scenarios' bytes per call; null leaves the server's column out.</param>
    public Scenarios(TimeSpan warmup, TimeSpan duration, Process server, BenchStats.BenchStatsClient? stats = null)
    {
        _warmup = warmup;
        _duration = duration;
        _server = server;
        _stats = stats;
    }

    public async Task<Measurement> UnaryLatencyAsync(Target target)
    {
        var request = new BenchRequest { Payload = Payload64, ResponseSize = 64 };
        await CheckUnaryAsync(target, request, 64);
        var histogram = new LongHistogram(TimeStamp.Seconds(10), 3);
        await RunForAsync(_warmup, async () => await target.Client.UnaryAsync(request));
        await RunForAsync(_duration, async () =>
        {
            var start = Stopwatch.GetTimestamp();
            await target.Client.UnaryAsync(request);
            histogram.RecordValue(Stopwatch.GetTimestamp() - start);
        });
        return Latency("unary 64 B sequential latency (p50)", target, histogram);
    }

    /// <summary>
    /// The same round trip through the blocking stub (<c>client.Unary(request)</c>), whose caller
    /// waits on its own thread: on Rpc the read loop completes the call and wakes it directly.
    /// </summary>
    public async Task<Measurement> UnaryBlockingLatencyAsync(Target target)
    {
        var request = new BenchRequest { Payload = Payload64, ResponseSize = 64 };
        await CheckUnaryAsync(target, request, 64);
        var histogram = new LongHistogram(TimeStamp.Seconds(10), 3);
        // A thread of its own, as a blocking caller has: the loop holds no pool thread.
        await Task.Factory.StartNew(() =>
        {
            RunFor(_warmup, () => target.Client.Unary(request));
            RunFor(_duration, () =>
            {
                var start = Stopwatch.GetTimestamp();
                target.Client.Unary(request);
                histogram.RecordValue(Stopwatch.GetTimestamp() - start);
            });
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return Latency("unary 64 B sequential latency, blocking stub (p50)", target, histogram);
    }

    public async Task<Measurement> UnaryThroughputAsync(Target target, int callers = 64)
    {
        var request = new BenchRequest { Payload = Payload64, ResponseSize = 64 };
        await CheckUnaryAsync(target, request, 64);
        await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => RunForAsync(_warmup, async () => await target.Client.UnaryAsync(request))));

        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime;
        _server.Refresh();
        var serverCpu = _server.TotalProcessorTime;
        var counts = await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => RunForAsync(_duration, async () => await target.Client.UnaryAsync(request))));
        var calls = counts.Sum();
        _server.Refresh();
        var clientMicros = (Process.GetCurrentProcess().TotalProcessorTime - clientCpu).TotalMicroseconds / calls;
        var serverMicros = (_server.TotalProcessorTime - serverCpu).TotalMicroseconds / calls;
        return new Measurement($"unary 64 B, {callers} callers", target.Name, calls / _duration.TotalSeconds, "calls/s", true,
            new Dictionary<string, double> { ["client CPU µs/call"] = clientMicros, ["server CPU µs/call"] = serverMicros, ["CPU µs/call"] = clientMicros + serverMicros });
    }

    public async Task<Measurement> ServerStreamingAsync(Target target)
    {
        var request = new BenchRequest { ResponseSize = 64, Count = 1_000_000_000 };
        await CheckServerStreamAsync(target);
        long messages = 0;
        var measuring = false;
        using var stop = new CancellationTokenSource(_warmup + _duration);
        using var call = target.Client.ServerStream(request, cancellationToken: stop.Token);
        var clock = Stopwatch.StartNew();
        var measuredFrom = TimeSpan.Zero;
        try
        {
            while (await call.ResponseStream.MoveNext(stop.Token))
            {
                if (measuring)
                {
                    messages++;
                }
                else if (clock.Elapsed >= _warmup)
                {
                    measuring = true;
                    measuredFrom = clock.Elapsed;
                }
            }
        }
        catch (RpcException) when (stop.IsCancellationRequested)
        {
            // The time is up (grpc-dotnet reports the cancelled stream as Cancelled or, racing, as Unavailable).
        }
        catch (OperationCanceledException)
        {
        }

        return new Measurement("server streaming 64 B", target.Name, messages / (clock.Elapsed - measuredFrom).TotalSeconds, "msgs/s", true);
    }

    public async Task<Measurement> ClientStreamingAsync(Target target)
    {
        var request = new BenchRequest { Payload = Payload64 };
        using var call = target.Client.ClientStream();
        var clock = Stopwatch.StartNew();
        long written = 0;
        long atWarmupEnd = 0;
        var measuredFrom = TimeSpan.Zero;
        while (clock.Elapsed < _warmup + _duration)
        {
            await call.RequestStream.WriteAsync(request);
            written++;
            if (atWarmupEnd == 0 && clock.Elapsed >= _warmup)
            {
                atWarmupEnd = written;
                measuredFrom = clock.Elapsed;
            }
        }

        await call.RequestStream.CompleteAsync();
        var reply = await call;
        var elapsed = clock.Elapsed - measuredFrom;
        if (reply.Count != written)
        {
            throw new InvalidOperationException($"{target.Name}: the server counted {reply.Count} messages, the client sent {written}.");
        }

        return new Measurement("client streaming 64 B", target.Name, (written - atWarmupEnd) / elapsed.TotalSeconds, "msgs/s", true);
    }

    public async Task<Measurement> PingPongAsync(Target target)
    {
        var request = new BenchRequest { Payload = Payload64, ResponseSize = 64 };
        using var call = target.Client.PingPong();
        async Task PingAsync()
        {
            await call.RequestStream.WriteAsync(request);
            if (!await call.ResponseStream.MoveNext(CancellationToken.None) || call.ResponseStream.Current.Payload.Length != 64)
            {
                throw new InvalidOperationException($"{target.Name}: ping-pong got no 64-byte answer.");
            }
        }

        await PingAsync();
        var histogram = new LongHistogram(TimeStamp.Seconds(10), 3);
        await RunForAsync(_warmup, PingAsync);
        await RunForAsync(_duration, async () =>
        {
            var start = Stopwatch.GetTimestamp();
            await PingAsync();
            histogram.RecordValue(Stopwatch.GetTimestamp() - start);
        });
        await call.RequestStream.CompleteAsync();
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
        }

        return Latency("bidi ping-pong 64 B latency (p50)", target, histogram);
    }

    /// <summary>CPU both processes use while a connected channel does nothing: should be none.</summary>
    public async Task<Measurement> IdleCpuAsync(Target target)
    {
        await CheckUnaryAsync(target, new BenchRequest { ResponseSize = 1 }, 1);
        await Task.Delay(500);
        var client = Process.GetCurrentProcess().TotalProcessorTime;
        _server.Refresh();
        var server = _server.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Task.Delay(_duration);
        _server.Refresh();
        var seconds = clock.Elapsed.TotalSeconds;
        var clientMs = (Process.GetCurrentProcess().TotalProcessorTime - client).TotalMilliseconds / seconds;
        var serverMs = (_server.TotalProcessorTime - server).TotalMilliseconds / seconds;
        return new Measurement("idle connection CPU (both processes)", target.Name, clientMs + serverMs, "ms CPU/s", false,
            new Dictionary<string, double> { ["client ms/s"] = clientMs, ["server ms/s"] = serverMs });
    }

    /// <summary>Server memory per open, idle duplex stream, over 1,000 of them.</summary>
    public async Task<Measurement> IdleStreamsAsync(Target target, int streams = 1000)
    {
        await CheckUnaryAsync(target, new BenchRequest { ResponseSize = 1 }, 1);
        _server.Refresh();
        var before = _server.PrivateMemorySize64;
        var calls = new List<Grpc.Core.AsyncDuplexStreamingCall<BenchRequest, BenchReply>>();
        for (var i = 0; i < streams; i++)
        {
            calls.Add(target.Client.PingPong(deadline: DateTime.UtcNow.AddMinutes(1)));
        }

        // One round trip on the last stream proves they are all open on the server.
        await calls[^1].RequestStream.WriteAsync(new BenchRequest { ResponseSize = 1 });
        if (!await calls[^1].ResponseStream.MoveNext(CancellationToken.None))
        {
            throw new InvalidOperationException($"{target.Name}: an idle stream did not answer.");
        }

        await Task.Delay(500);
        _server.Refresh();
        var perStream = (_server.PrivateMemorySize64 - before) / (double)streams;
        foreach (var call in calls)
        {
            call.Dispose();
        }

        await Task.Delay(500);
        return new Measurement($"{streams} idle streams, server memory per stream", target.Name, perStream / 1024, "KiB", false);
    }

    private static Measurement Latency(string scenario, Target target, LongHistogram histogram)
    {
        double Micros(double percentile) => histogram.GetValueAtPercentile(percentile) * 1e6 / Stopwatch.Frequency;
        return new Measurement(scenario, target.Name, Micros(50), "µs", false, new Dictionary<string, double>
        {
            ["p90 µs"] = Micros(90),
            ["p99 µs"] = Micros(99),
            ["p99.9 µs"] = Micros(99.9),
        });
    }

    private static async Task CheckUnaryAsync(Target target, BenchRequest request, int expectedSize)
    {
        var reply = await target.Client.UnaryAsync(request, deadline: DateTime.UtcNow.AddSeconds(10));
        if (reply.Payload.Length != expectedSize)
        {
            throw new InvalidOperationException($"{target.Name}: expected a {expectedSize}-byte reply, got {reply.Payload.Length}.");
        }
    }

    private static async Task CheckServerStreamAsync(Target target)
    {
        using var call = target.Client.ServerStream(new BenchRequest { ResponseSize = 64, Count = 3 }, deadline: DateTime.UtcNow.AddSeconds(10));
        var count = 0;
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            count += call.ResponseStream.Current.Payload.Length == 64 ? 1 : 0;
        }

        if (count != 3)
        {
            throw new InvalidOperationException($"{target.Name}: expected 3 streamed replies, got {count}.");
        }
    }

    private static void RunFor(TimeSpan duration, Action operation)
    {
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < until)
        {
            operation();
        }
    }

    private static async Task<long> RunForAsync(TimeSpan duration, Func<Task> operation)
    {
        long count = 0;
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < until)
        {
            await operation();
            count++;
        }

        return count;
    }
}
