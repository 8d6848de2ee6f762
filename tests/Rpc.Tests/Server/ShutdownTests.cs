using System.Diagnostics;
using System.Net.Sockets;
using Grpc.Core;
using Rpc.Server;
using Rpc.Testing;
using Rpc.TestServer;
using Rpc.Tests.Client;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Server;

/// <summary>Shutdown finishes what it accepted and never waits without a bound.</summary>
public sealed class ShutdownTests
{
    // Generous room for a loaded machine on top of the documented bound; the bound is what matters.
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(5);

    private static TimeSpan Bound(TimeSpan shutdownTimeout) =>
        shutdownTimeout + RpcServer.HandlerAbortTimeout + RpcServer.CloseTimeout + RpcServer.CloseTimeout + Slack;

    [Fact]
    public async Task ShutdownAsync_HandlerIgnoresCancellation_CompletesWithinBound()
    {
        var service = new StubbornService();
        var options = new RpcServerOptions { ShutdownTimeout = TimeSpan.FromMilliseconds(200) };
        await using var server = await TestServer.StartAsync(service, options);
        try
        {
            using var call = new TestService.TestServiceClient(server.Channel).EmptyCallAsync(new Empty());
            await service.Started.Task.DefaultTimeout();

            var watch = Stopwatch.StartNew();
            await server.Server.ShutdownAsync().DefaultTimeout();

            Assert.True(watch.Elapsed < Bound(options.ShutdownTimeout), $"Shutdown took {watch.Elapsed}.");
            var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
            Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        }
        finally
        {
            service.Release.TrySetResult();
        }
    }

    [Fact]
    public async Task ShutdownAsync_CallerTokenCancelled_StopsWaitingForHandlers()
    {
        var service = new StubbornService();
        var options = new RpcServerOptions { ShutdownTimeout = TimeSpan.FromMinutes(10) };
        await using var server = await TestServer.StartAsync(service, options);
        try
        {
            using var call = new TestService.TestServiceClient(server.Channel).EmptyCallAsync(new Empty());
            await service.Started.Task.DefaultTimeout();
            using var giveUp = new CancellationTokenSource();

            var watch = Stopwatch.StartNew();
            var shutdown = server.Server.ShutdownAsync(giveUp.Token);
            await giveUp.CancelAsync();
            await shutdown.DefaultTimeout();

            Assert.True(watch.Elapsed < Bound(TimeSpan.Zero), $"Shutdown took {watch.Elapsed} after its token fired.");
        }
        finally
        {
            service.Release.TrySetResult();
        }
    }

    [Fact]
    public async Task ShutdownAsync_CallAcceptedNotYetRunning_CallCompletes()
    {
        await using var server = await TestServer.StartAsync(new ConformanceService());
        var held = new TaskCompletionSource<IThreadPoolWorkItem>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Server.Environment.Schedule = call => held.TrySetResult(call);

        using var call = new TestService.TestServiceClient(server.Channel).EmptyCallAsync(new Empty());
        var accepted = await held.Task.DefaultTimeout();
        var shutdown = server.Server.ShutdownAsync();
        // A shutdown that does not know of the accepted call finishes now and closes its
        // connection; one that does waits for it. Let the first kind get there before the call runs.
        await Task.WhenAny(shutdown, Task.Delay(TimeSpan.FromMilliseconds(500)));
        ThreadPool.UnsafeQueueUserWorkItem(accepted, preferLocal: false);

        await call.ResponseAsync.DefaultTimeout();
        await shutdown.DefaultTimeout();
    }

    [Fact]
    public async Task ShutdownAsync_ClientStoppedReading_CompletesWithinBound()
    {
        var options = new RpcServerOptions { ShutdownTimeout = TimeSpan.FromMilliseconds(200) };
        await using var server = await TestServer.StartAsync(new ConformanceService(), options);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(server.SocketPath)).DefaultTimeout();

        // Ask for far more than the socket buffers hold, then never read: the server's output backs up.
        var request = new StreamingOutputCallRequest();
        for (var i = 0; i < 64; i++)
        {
            request.ResponseParameters.Add(new ResponseParameters { Size = 64 * 1024 });
        }

        await socket.SendAsync(RawFrames.Handshake()).DefaultTimeout();
        await socket.SendAsync(RawFrames.Call(1, "/rpc.testing.TestService/StreamingOutputCall", -1, request)).DefaultTimeout();
        await Waits.UntilAsync(() => server.Server.Environment.Calls.Count == 1, "the server runs the call");

        var watch = Stopwatch.StartNew();
        await server.Server.ShutdownAsync().DefaultTimeout();

        Assert.True(watch.Elapsed < Bound(options.ShutdownTimeout), $"Shutdown took {watch.Elapsed}.");
    }

    /// <summary>A handler that ignores its cancellation token until the test lets it go.</summary>
    private sealed class StubbornService : TestService.TestServiceBase
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async Task<Empty> EmptyCall(Empty request, ServerCallContext context)
        {
            Started.TrySetResult();
            await Release.Task;
            return new Empty();
        }
    }
}
