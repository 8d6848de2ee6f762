using Grpc.Core;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Xunit;

namespace Rpc.Tests.Server;

/// <summary>
/// Default scheduling: handlers start, and client continuations run, on the connection's receive
/// thread, and a watchdog moves the connection's receiving to a new thread when one of them blocks.
/// So a handler or continuation that blocks never stalls its connection for good, even a blocking
/// stub called where its own response must be read.
/// </summary>
public sealed class ReceiveThreadRescueTests
{
    private static readonly TimeSpan GateBound = TimeSpan.FromSeconds(30);

    public static TheoryData<string> Schemes => ["unix", "shm"];

    [Theory]
    [MemberData(nameof(Schemes))]
    public async Task BlockingHandler_OnTheReceiveThread_ConnectionRescued_NextCallSucceeds(string scheme)
    {
        var service = new BlockingService();
        await using var server = await TransportServer.StartAsync(scheme, service, inline: false);
        await using var channel = server.Channel(inline: false);
        var client = new TestService.TestServiceClient(channel);
        // A call that comes with the connection may be parsed on the pool thread that set the
        // connection up (and then runs there); once it is up, the receive thread parses every call.
        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();

        using var blocked = client.UnaryCallAsync(new SimpleRequest());
        try
        {
            Assert.True(await Task.Run(() => service.Entered.Wait(GateBound)).DefaultTimeout(), "The handler did not start.");
            // The handler was started by the receive thread (a thread of its own, not the pool's).
            Assert.False(service.OnPoolThread);

            // The same connection goes on reading once the watchdog has given it a new thread.
            await client.EmptyCallAsync(new Empty(), deadline: DateTime.UtcNow + GateBound).ResponseAsync.DefaultTimeout();
            Assert.False(blocked.ResponseAsync.IsCompleted);
        }
        finally
        {
            service.Gate.Set();
        }

        Assert.NotNull(await blocked.ResponseAsync.DefaultTimeout());
        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Theory]
    [MemberData(nameof(Schemes))]
    public async Task ManyBlockingHandlers_OneConnection_AllComplete(string scheme)
    {
        var service = new BlockingService { SleepMilliseconds = 5 };
        await using var server = await TransportServer.StartAsync(scheme, service, inline: false);
        await using var channel = server.Channel(inline: false);
        var client = new TestService.TestServiceClient(channel);

        // Each handler sleeps on whatever thread runs it: rescues, the pause after them, and the
        // thread pool take turns, and every call still completes.
        var calls = Enumerable.Range(0, 40).Select(_ => client.UnaryCallAsync(new SimpleRequest { ResponseSize = 8 }).ResponseAsync).ToArray();
        var responses = await Task.WhenAll(calls).DefaultTimeout();

        Assert.All(responses, r => Assert.Equal(8, r.Payload.Body.Length));
    }

    [Theory]
    [MemberData(nameof(Schemes))]
    public async Task BlockingContinuation_DefaultChannel_DoesNotStallItsConnection(string scheme)
    {
        await using var server = await TransportServer.StartAsync(scheme, new ConformanceService(), inline: false);
        await using var channel = server.Channel(inline: false);
        var client = new TestService.TestServiceClient(channel);
        using var gate = new ManualResetEventSlim();
        using var entered = new ManualResetEventSlim();

        var blocker = ReceiveThreadContinuation.RunAsync(
            async () => await client.EmptyCallAsync(new Empty()),
            () =>
            {
                entered.Set();
                return gate.Wait(GateBound);
            },
            otherwise: false);
        try
        {
            Assert.True(await Task.Run(() => entered.Wait(GateBound)).DefaultTimeout(), "No continuation ran on the receive thread.");

            await client.EmptyCallAsync(new Empty(), deadline: DateTime.UtcNow + GateBound).ResponseAsync.DefaultTimeout();
        }
        finally
        {
            gate.Set();
        }

        Assert.True(await blocker.DefaultTimeout());
    }

    [Theory]
    [MemberData(nameof(Schemes))]
    public async Task BlockingStub_InAContinuationOnTheReceiveThread_Completes(string scheme)
    {
        await using var server = await TransportServer.StartAsync(scheme, new ConformanceService(), inline: false);
        await using var channel = server.Channel(inline: false);
        var client = new TestService.TestServiceClient(channel);

        // Sync over async where the response must be read by the very thread that waits: only the
        // rescue lets it finish.
        var result = await ReceiveThreadContinuation.RunAsync(
            async () => await client.EmptyCallAsync(new Empty()),
            () => client.UnaryCall(new SimpleRequest { ResponseSize = 3 }, deadline: DateTime.UtcNow + GateBound).Payload.Body.Length,
            otherwise: -1).DefaultTimeout();

        Assert.Equal(3, result);
    }

    private sealed class BlockingService : TestService.TestServiceBase
    {
        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Gate { get; } = new();

        public int SleepMilliseconds { get; init; }

        public bool OnPoolThread { get; private set; }

        public override Task<SimpleResponse> UnaryCall(SimpleRequest request, ServerCallContext context)
        {
            if (SleepMilliseconds > 0)
            {
                // Blocking on purpose: a synchronous handler, the case the rescue exists for.
                Thread.Sleep(SleepMilliseconds);
                return Task.FromResult(new SimpleResponse { Payload = new Payload { Body = Google.Protobuf.ByteString.CopyFrom(new byte[request.ResponseSize]) } });
            }

            OnPoolThread = Thread.CurrentThread.IsThreadPoolThread;
            Entered.Set();
            Gate.Wait(GateBound);
            return Task.FromResult(new SimpleResponse());
        }

        public override Task<Empty> EmptyCall(Empty request, ServerCallContext context) => Task.FromResult(new Empty());
    }
}
