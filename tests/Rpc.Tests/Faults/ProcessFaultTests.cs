using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Rpc.Tests.Faults;

/// <summary>
/// Issue 8's fault suite: a peer killed with SIGKILL or frozen with SIGSTOP mid-call, with the
/// other side in a separate process, on every transport (one subclass each). The bounds are
/// generous (the issue's goals are tighter); each test writes what it measured to the test output.
/// </summary>
public abstract class ProcessFaultTests
{
    /// <summary>Generous bound on a killed server's calls ending; the issue's goal is under 1 s.</summary>
    private static readonly TimeSpan UnavailableBound = TimeSpan.FromSeconds(5);

    /// <summary>The test server's ShutdownTimeout (tests/Rpc.TestServer) plus the drain bound the issue asks for.</summary>
    private static readonly TimeSpan ShutdownBound = TimeSpan.FromSeconds(3 + 10);

    /// <summary>What a channel's dispose may take with a frozen server: the drain bound (assumed ≤ 10 s) and slack.</summary>
    private static readonly TimeSpan DisposeBound = TimeSpan.FromSeconds(12);

    /// <summary>
    /// Thread-pool workers started while handlers ran retire only after idling for seconds, so a
    /// server's thread count may sit a few above its idle count; a leak per call or connection
    /// shows up above this.
    /// </summary>
    private const int ThreadSlack = 4;

    /// <summary>Each test's own bound: a hang fails that test instead of holding the run.</summary>
    private const int TestTimeout = 120_000;

    /// <summary>Streams whose windows (1 MiB each) a frozen peer leaves queued: far more than any kernel buffer.</summary>
    private const int FloodStreams = 32;

    private readonly ITestOutputHelper _output;

    protected ProcessFaultTests(ITestOutputHelper output) => _output = output;

    /// <summary>A fresh address for a new server on this transport.</summary>
    protected abstract string NewAddress();

    /// <summary>The /dev/shm names a server at <paramref name="address"/> may create.</summary>
    protected virtual string ShmPattern(string address) => "rpc-none-*";

    /// <summary>A channel to <paramref name="address"/>; transports with settings of their own add them.</summary>
    protected virtual RpcChannel CreateChannel(string address) => RpcChannel.ForAddress(address);

    /// <summary>Removes what a killed server left at <paramref name="address"/>, so the run leaves nothing.</summary>
    protected virtual void RemoveLeftovers(string address)
    {
    }

    [Fact(Timeout = TestTimeout)]
    public async Task ServerKilled_MidCallOfEveryKind_CallsUnavailableAndNextCallAfterRestartSucceeds()
    {
        var server = await ServerProcess.StartAsync(NewAddress());
        var address = server.Address;
        try
        {
            var channel = CreateChannel(address);
            await using var disposeChannel = new AsyncCleanup(() => channel.DisposeWithinAsync());
            var client = new TestService.TestServiceClient(channel);
            var key = Guid.NewGuid().ToString("N");
            using var unary = client.SleepAsync(new SleepRequest { Key = key, Millis = 60_000 }, Tag(key, "unary"));
            using var serverStreaming = client.StreamingOutputCall(SlowStream(), Tag(key, "server"));
            using var clientStreaming = client.StreamingInputCall(Tag(key, "client"));
            await clientStreaming.RequestStream.WriteAsync(new StreamingInputCallRequest { Payload = new Payload { Body = ByteString.CopyFrom(new byte[16]) } }).DefaultTimeout();
            using var duplex = client.FullDuplexCall(Tag(key, "bidi"));
            await duplex.RequestStream.WriteAsync(new StreamingOutputCallRequest()).DefaultTimeout();
            await server.Process.WaitForLinesAsync(Kinds.Select(kind => $"HANDLER-STARTED {key}-{kind}"));

            var stopwatch = Stopwatch.StartNew();
            await server.Process.KillAsync();
            var ends = new[]
            {
                TimeEndAsync("unary", stopwatch, () => unary.ResponseAsync),
                TimeEndAsync("server streaming", stopwatch, () => serverStreaming.ResponseStream.MoveNext(CancellationToken.None)),
                TimeEndAsync("client streaming", stopwatch, () => clientStreaming.ResponseAsync),
                TimeEndAsync("bidi", stopwatch, () => duplex.ResponseStream.MoveNext(CancellationToken.None)),
            };
            var results = await Task.WhenAll(ends).DefaultTimeout();
            foreach (var (kind, status, elapsed) in results)
            {
                _output.WriteLine($"{GetType().Name}: {kind} ended {status} {elapsed.TotalMilliseconds:F0} ms after the kill");
            }

            Assert.All(results, r => Assert.Equal(StatusCode.Unavailable, r.Status));
            Assert.All(results, r => Assert.True(r.Elapsed < UnavailableBound, $"The {r.Kind} call took {r.Elapsed} to end after the server was killed."));

            // The same channel, with no retry loop: a broken connection is retried on the next call.
            server = await ServerProcess.StartAsync(address);
            await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        }
        finally
        {
            await server.DisposeAsync();
            RemoveLeftovers(address);
        }
    }

    [Fact(Timeout = TestTimeout)]
    public async Task ClientKilled_MidCallOfEveryKind_HandlersCancelledAndServerResourcesReturn()
    {
        await using var server = await ServerProcess.StartAsync(NewAddress());
        var pid = server.Process.Id;
        var shm = ShmPattern(server.Address);
        var fresh = ProcessResources.Read(pid, shm);

        // The first client also makes the server create what it keeps for the process's life (the
        // socket engine's epoll and wake-up handles, pool threads): the baseline is taken after it.
        // Two rounds: TLS opens some of its process-wide handles only on a later handshake.
        var uncancelled = await KillClientMidCallsAsync(server, "warm-up");
        uncancelled.AddRange(await KillClientMidCallsAsync(server, "second warm-up"));
        var idle = await WaitForSteadyAsync(pid, shm);
        uncancelled.AddRange(await KillClientMidCallsAsync(server, "measured"));

        var after = await ProcessResources.WaitUntilAsync(
            pid,
            shm,
            r => r.FileDescriptors <= idle.FileDescriptors && r.ShmEntries <= idle.ShmEntries && r.Threads <= idle.Threads + ThreadSlack,
            // A leak never comes back, so waiting longer costs nothing when all is well; under a
            // loaded CI machine a dead connection's close (read EOF, bounded drain) can take seconds.
            TimeSpan.FromSeconds(25));
        _output.WriteLine($"{GetType().Name}: fresh {fresh}; idle after two killed clients {idle}; after a third {after}");
        Assert.True(uncancelled.Count == 0, $"Handlers of a killed client ended without their token firing: {string.Join("; ", uncancelled)}");
        Assert.True(after.FileDescriptors <= idle.FileDescriptors, $"The server holds {after.FileDescriptors} fds, {idle.FileDescriptors} before the client came.");
        Assert.True(after.ShmEntries <= idle.ShmEntries, $"/dev/shm holds {after.ShmEntries} of the server's entries, {idle.ShmEntries} before the client came.");
        Assert.True(after.Threads <= idle.Threads + ThreadSlack, $"The server runs {after.Threads} threads, {idle.Threads} before the client came.");
    }

    [Fact(Timeout = TestTimeout)]
    public async Task ServerFrozen_ChannelDisposeWithOutputQueued_FinishesWithinBound()
    {
        var server = await ServerProcess.StartAsync(NewAddress());
        var address = server.Address;
        try
        {
            var channel = CreateChannel(address);
            var client = new TestService.TestServiceClient(channel);
            await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
            server.Process.Freeze();

            // Each stream may send one window (1 MiB) ahead; none of it is read while the server is frozen.
            long written = 0;
            var chunk = new StreamingInputCallRequest { Payload = new Payload { Body = ByteString.CopyFrom(new byte[64 * 1024]) } };
            var calls = Enumerable.Range(0, FloodStreams).Select(_ => client.StreamingInputCall()).ToList();
            var writers = calls.Select(call => Task.Run(async () =>
            {
                for (var i = 0; i < 32; i++)
                {
                    await call.RequestStream.WriteAsync(chunk);
                    Interlocked.Add(ref written, chunk.Payload.Body.Length);
                }
            })).ToList();
            var queued = await WaitForSteadyAsync(() => Interlocked.Read(ref written));

            var stopwatch = Stopwatch.StartNew();
            var dispose = channel.DisposeAsync().AsTask();
            var finished = await Task.WhenAny(dispose, Task.Delay(DisposeBound)) == dispose;
            _output.WriteLine($"{GetType().Name}: {queued / 1024} KiB written before dispose; dispose {(finished ? "took " + stopwatch.ElapsedMilliseconds + " ms" : "still running after " + DisposeBound)}");
            Assert.True(finished, $"Dispose of a channel to a frozen server did not finish within {DisposeBound}.");

            // Writers waiting for window end with the channel, not whenever the server thaws.
            var writersEnded = Task.WhenAll(writers.Select(w => w.ContinueWith(_ => { }, TaskScheduler.Default)));
            Assert.True(await Task.WhenAny(writersEnded, Task.Delay(TimeSpan.FromSeconds(5))) == writersEnded, "Writes blocked on the frozen server did not end with the channel.");
            foreach (var call in calls)
            {
                call.Dispose();
            }
        }
        finally
        {
            server.Process.Thaw();
            await server.Process.KillAsync();
            await server.DisposeAsync();
            RemoveLeftovers(address);
        }
    }

    [Fact(Timeout = TestTimeout)]
    public async Task ClientFrozen_ServerShutdownWithOutputQueued_FinishesWithinBound()
    {
        var server = await ServerProcess.StartAsync(NewAddress());
        var address = server.Address;
        var client = ChildProcess.Start(TestPaths.TestClientDll, "flood", address, FloodStreams.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            // The client reads one message per stream, then the server waits 2 s before writing a
            // window's worth on each: the client is frozen by then, so the output backs up.
            await client.WaitForLineAsync("STARTED");
            client.Freeze();
            var stopwatch = Stopwatch.StartNew();
            server.Process.RequestStop();
            var exited = await Task.WhenAny(server.Process.WaitForExitAsync(ShutdownBound + TimeSpan.FromSeconds(2))) is { IsCompletedSuccessfully: true };
            _output.WriteLine($"{GetType().Name}: shutdown with a frozen client {(exited ? "took " + stopwatch.ElapsedMilliseconds + " ms" : "still running after " + (ShutdownBound + TimeSpan.FromSeconds(2)))}");
            Assert.True(exited && stopwatch.Elapsed < ShutdownBound, $"Shutdown with a frozen client took {stopwatch.Elapsed}; the bound is {ShutdownBound}.");
            Assert.Contains("STOPPED", server.Process.Transcript, StringComparison.Ordinal);
        }
        finally
        {
            client.Thaw();
            await client.KillAsync();
            await client.DisposeAsync();
            if (!server.Process.HasExited)
            {
                await server.Process.KillAsync();
            }

            await server.DisposeAsync();
            RemoveLeftovers(address);
        }
    }

    [Fact(Timeout = TestTimeout)]
    public async Task SilentConnections_Thousand_RealClientStillServed()
    {
        await using var server = await ServerProcess.StartAsync(NewAddress());
        var endPoint = RawEndPoint(server.Address);
        var silent = new List<Socket>();
        try
        {
            // A server that accepts while it handshakes drains its backlog at once; one whose
            // accept loop waits on a silent peer's handshake does not, and this fails in 15 s.
            var deadline = DateTime.UtcNow.AddSeconds(15);
            for (var i = 0; i < 1000; i++)
            {
                var socket = await ConnectSilentAsync(endPoint, deadline);
                Assert.True(socket is not null, $"The server took only {i} of 1,000 silent connections within 15 s: its accept loop is stuck behind them.");
                silent.Add(socket);
            }

            var channel = CreateChannel(server.Address);
            await using var disposeChannel = new AsyncCleanup(() => channel.DisposeWithinAsync());
            var stopwatch = Stopwatch.StartNew();
            await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
            _output.WriteLine($"{GetType().Name}: first call behind 1,000 silent connections took {stopwatch.ElapsedMilliseconds} ms");

            // Far below any handshake timeout: a silent peer must not hold up accepting others.
            // Not a latency goal (that lives in the benchmarks): an accept loop that ran handshakes
            // one at a time would hold the client for at least one 10 s handshake timeout; a loaded
            // 2-core machine has been seen to take 4 s here.
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(8), $"A real client waited {stopwatch.Elapsed} behind silent connections.");
        }
        finally
        {
            foreach (var socket in silent)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>
    /// Starts a client process that holds a call of each kind, kills it, waits until every handler
    /// ended, and returns how those that ended without their token firing ended.
    /// </summary>
    private async Task<List<string>> KillClientMidCallsAsync(ServerProcess server, string round)
    {
        var key = Guid.NewGuid().ToString("N");
        await using var client = ChildProcess.Start(TestPaths.TestClientDll, "hold", server.Address, key);
        await client.WaitForLineAsync("STARTED");
        await server.Process.WaitForLinesAsync(Kinds.Select(kind => $"HANDLER-STARTED {key}-{kind}"));
        var stopwatch = Stopwatch.StartNew();
        await client.KillAsync();
        await server.Process.WaitForLinesAsync(Kinds.Select(kind => $"HANDLER-ENDED {key}-{kind}"));
        _output.WriteLine($"{GetType().Name}: {round}: every handler ended {stopwatch.ElapsedMilliseconds} ms after the kill");

        // Ending is not enough: each handler must have been told through its token, not left to
        // find out from a read that ended or a write that failed.
        var transcript = server.Process.Transcript.Split(Environment.NewLine);
        var uncancelled = Kinds
            .Where(kind => !transcript.Contains($"HANDLER-CANCELLED {key}-{kind}")
                && !transcript.Any(line => line.StartsWith($"HANDLER-ENDED {key}-{kind} ", StringComparison.Ordinal) && line.EndsWith("token=True", StringComparison.Ordinal)))
            .Select(kind => round + ": " + transcript.First(line => line.StartsWith($"HANDLER-ENDED {key}-{kind} ", StringComparison.Ordinal)))
            .ToList();
        return uncancelled;
    }

    /// <summary>The server's resources once its fd count has not changed for a second (at most 10 s).</summary>
    private static async Task<ProcessResources> WaitForSteadyAsync(int pid, string shm)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var last = ProcessResources.Read(pid, shm);
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(1000);
            var now = ProcessResources.Read(pid, shm);
            if (now.FileDescriptors == last.FileDescriptors)
            {
                return now;
            }

            last = now;
        }

        return last;
    }

    /// <summary>
    /// Connects a socket that will never send, retrying while the listen backlog is full (unix
    /// sockets refuse with EAGAIN; TCP waits for the SYN to be answered); null at the deadline.
    /// </summary>
    private static async Task<Socket?> ConnectSilentAsync(EndPoint endPoint, DateTime deadline)
    {
        while (DateTime.UtcNow < deadline)
        {
            var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, endPoint is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromTicks(Math.Max(1, (deadline - DateTime.UtcNow).Ticks)));
                await socket.ConnectAsync(endPoint, timeout.Token);
                return socket;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.WouldBlock or SocketError.TryAgain)
            {
                socket.Dispose();
                await Task.Delay(10);
            }
            catch (OperationCanceledException)
            {
                socket.Dispose();
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        return null;
    }

    /// <summary>Where a raw socket reaches the server at <paramref name="address"/> (its listening socket or rendezvous).</summary>
    protected abstract EndPoint RawEndPoint(string address);

    private static readonly string[] Kinds = ["unary", "server", "client", "bidi"];

    private static Metadata Tag(string key, string kind) => [new Metadata.Entry("x-fault-key", $"{key}-{kind}")];

    /// <summary>A server stream that sends a small message every 100 ms, so it is mid-call whenever the test strikes.</summary>
    private static StreamingOutputCallRequest SlowStream()
    {
        var request = new StreamingOutputCallRequest();
        for (var i = 0; i < 600; i++)
        {
            request.ResponseParameters.Add(new ResponseParameters { Size = 8, IntervalUs = 100_000 });
        }

        return request;
    }

    /// <summary>How long after the kill the call ended, and with what status.</summary>
    private static async Task<(string Kind, StatusCode Status, TimeSpan Elapsed)> TimeEndAsync(string kind, Stopwatch stopwatch, Func<Task> end)
    {
        // A server stream may deliver messages already on their way before its end arrives.
        for (var i = 0; i < 1000; i++)
        {
            try
            {
                var task = end();
                if (task is Task<bool> more && await more)
                {
                    continue;
                }

                await task;
                return (kind, StatusCode.OK, stopwatch.Elapsed);
            }
            catch (RpcException ex)
            {
                return (kind, ex.StatusCode, stopwatch.Elapsed);
            }
        }

        return (kind, StatusCode.OK, stopwatch.Elapsed);
    }

    /// <summary>Waits until <paramref name="read"/> stops changing for half a second (at most 10 s): writers have filled what they can.</summary>
    private static async Task<long> WaitForSteadyAsync(Func<long> read)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var last = read();
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
            var now = read();
            if (now == last)
            {
                break;
            }

            last = now;
        }

        return last;
    }
}
