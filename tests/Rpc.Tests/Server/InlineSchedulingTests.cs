using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Hosting;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Xunit;

namespace Rpc.Tests.Server;

/// <summary>
/// UnsafePreferInlineScheduling on both sides: every kind of call works, and a handler or a
/// continuation that blocks stalls its own connection and no other (the option's documented contract).
/// </summary>
public sealed class InlineSchedulingTests
{
    // Long enough that a stalled call cannot be mistaken for a slow one; every blocking wait below
    // is bounded by it, so a test that goes wrong fails instead of hanging the run.
    private static readonly TimeSpan GateBound = TimeSpan.FromSeconds(30);

    // The deadline of a call expected to be stalled behind a blocked read loop.
    private static readonly TimeSpan StalledDeadline = TimeSpan.FromMilliseconds(500);

    public static TheoryData<string> Schemes => ["unix", "shm"];

    [Theory]
    [MemberData(nameof(Schemes))]
    public async Task EveryCallKind_InlineBothSides_Succeeds(string scheme)
    {
        await using var server = await TransportServer.StartAsync(scheme, new ConformanceService(), inline: true);
        await using var channel = server.Channel(inline: true);
        var client = new TestService.TestServiceClient(channel);

        var unary = await client.UnaryCallAsync(new SimpleRequest { ResponseSize = 64 }).ResponseAsync.DefaultTimeout();
        Assert.Equal(64, unary.Payload.Body.Length);

        var outputRequest = new StreamingOutputCallRequest();
        outputRequest.ResponseParameters.Add([new ResponseParameters { Size = 1 }, new ResponseParameters { Size = 2 }, new ResponseParameters { Size = 3 }]);
        using (var serverStreaming = client.StreamingOutputCall(outputRequest))
        {
            var sizes = new List<int>();
            while (await serverStreaming.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
            {
                sizes.Add(serverStreaming.ResponseStream.Current.Payload.Body.Length);
            }

            Assert.Equal([1, 2, 3], sizes);
            Assert.Equal(StatusCode.OK, serverStreaming.GetStatus().StatusCode);
        }

        using (var clientStreaming = client.StreamingInputCall())
        {
            for (var i = 0; i < 10; i++)
            {
                await clientStreaming.RequestStream.WriteAsync(new StreamingInputCallRequest { Payload = new Payload { Body = ByteString.CopyFrom(new byte[100]) } }).DefaultTimeout();
            }

            await clientStreaming.RequestStream.CompleteAsync().DefaultTimeout();
            Assert.Equal(1000, (await clientStreaming.ResponseAsync.DefaultTimeout()).AggregatedPayloadSize);
        }

        using var duplex = client.FullDuplexCall();
        for (var i = 1; i <= 5; i++)
        {
            var ping = new StreamingOutputCallRequest();
            ping.ResponseParameters.Add(new ResponseParameters { Size = i });
            await duplex.RequestStream.WriteAsync(ping).DefaultTimeout();
            Assert.True(await duplex.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
            Assert.Equal(i, duplex.ResponseStream.Current.Payload.Body.Length);
        }

        await duplex.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await duplex.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.OK, duplex.GetStatus().StatusCode);
    }

    [Theory]
    [MemberData(nameof(Schemes))]
    public async Task BlockingHandler_TransportServer_StallsOnlyItsConnection(string scheme)
    {
        var service = new GatedService();
        await using var server = await TransportServer.StartAsync(scheme, service, inline: true);
        await using var first = server.Channel(inline: false);
        await using var second = server.Channel(inline: false);
        var firstClient = new TestService.TestServiceClient(first);

        using var blocked = firstClient.UnaryCallAsync(new SimpleRequest());
        try
        {
            Assert.True(await Task.Run(() => service.Entered.Wait(GateBound)).DefaultTimeout(), "The handler did not start.");

            // The same connection reads nothing while its read loop runs the blocked handler.
            var stalled = await Assert.ThrowsAsync<RpcException>(
                () => firstClient.EmptyCallAsync(new Empty(), deadline: DateTime.UtcNow + StalledDeadline).ResponseAsync.DefaultTimeout());
            Assert.Equal(StatusCode.DeadlineExceeded, stalled.StatusCode);

            // Another connection of the same server goes on.
            await new TestService.TestServiceClient(second).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        }
        finally
        {
            service.Gate.Set();
        }

        Assert.NotNull(await blocked.ResponseAsync.DefaultTimeout());
        await firstClient.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Theory]
    [MemberData(nameof(Schemes))]
    public async Task BlockingHandler_DefaultScheduling_DoesNotStallItsConnection(string scheme)
    {
        var service = new GatedService();
        await using var server = await TransportServer.StartAsync(scheme, service, inline: false);
        await using var channel = server.Channel(inline: false);
        var client = new TestService.TestServiceClient(channel);

        using var blocked = client.UnaryCallAsync(new SimpleRequest());
        try
        {
            Assert.True(await Task.Run(() => service.Entered.Wait(GateBound)).DefaultTimeout(), "The handler did not start.");

            await client.EmptyCallAsync(new Empty(), deadline: DateTime.UtcNow + GateBound).ResponseAsync.DefaultTimeout();
            Assert.False(blocked.ResponseAsync.IsCompleted);
        }
        finally
        {
            service.Gate.Set();
        }

        Assert.NotNull(await blocked.ResponseAsync.DefaultTimeout());
    }

    [Theory]
    [MemberData(nameof(Schemes))]
    public async Task BlockingContinuation_InlineChannel_StallsOnlyItsConnection(string scheme)
    {
        await using var server = await TransportServer.StartAsync(scheme, new ConformanceService(), inline: false);
        await using var first = server.Channel(inline: true);
        await using var second = server.Channel(inline: true);
        var firstClient = new TestService.TestServiceClient(first);
        using var gate = new ManualResetEventSlim();
        using var entered = new ManualResetEventSlim();

        var blocker = ReceiveThreadContinuation.RunAsync(
            async () => await firstClient.EmptyCallAsync(new Empty()),
            () =>
            {
                entered.Set();
                return gate.Wait(GateBound);
            },
            otherwise: false);
        try
        {
            Assert.True(await Task.Run(() => entered.Wait(GateBound)).DefaultTimeout(), "No continuation ran on the read loop.");

            var stalled = await Assert.ThrowsAsync<RpcException>(
                () => firstClient.EmptyCallAsync(new Empty(), deadline: DateTime.UtcNow + StalledDeadline).ResponseAsync.DefaultTimeout());
            Assert.Equal(StatusCode.DeadlineExceeded, stalled.StatusCode);

            await new TestService.TestServiceClient(second).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        }
        finally
        {
            gate.Set();
        }

        Assert.True(await blocker.DefaultTimeout());
        await firstClient.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task Configuration_UnsafePreferInlineScheduling_BoundAndServes()
    {
        await using var host = await TestHost.StartAsync(
            services => services.AddRpcServer().AddService<ConformanceService>(),
            new Dictionary<string, string?>
            {
                ["Rpc:Server:Addresses:0"] = "tcp://127.0.0.1:0",
                ["Rpc:Server:UnsafePreferInlineScheduling"] = "true",
            });

        Assert.True(host.Services.GetRequiredService<IOptions<RpcServerOptions>>().Value.UnsafePreferInlineScheduling);
        using var channel = RpcChannel.ForAddress(host.Services.GetRequiredService<RpcServer>().BoundAddresses.Single());
        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    /// <summary>UnaryCall blocks its thread until the test opens the gate; EmptyCall answers at once.</summary>
    private sealed class GatedService : TestService.TestServiceBase
    {
        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Gate { get; } = new();

        public override Task<SimpleResponse> UnaryCall(SimpleRequest request, ServerCallContext context)
        {
            Entered.Set();
            // Blocking on purpose: this is the misuse the option's documentation describes.
            Gate.Wait(GateBound);
            return Task.FromResult(new SimpleResponse());
        }

        public override Task<Empty> EmptyCall(Empty request, ServerCallContext context) => Task.FromResult(new Empty());
    }
}
