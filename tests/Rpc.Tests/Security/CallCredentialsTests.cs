using System.Diagnostics;
using Grpc.Core;
using Rpc.Client;
using Rpc.Server;
using Rpc.TestServer;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Security;

/// <summary>
/// CallCredentials across processes: the test server echoes the <c>authorization</c> header it
/// received as the <c>x-authorization</c> trailer, and <c>x-echo-*</c> headers as trailers.
/// </summary>
public sealed class CallCredentialsTests : IClassFixture<SecurityServerFixture>
{
    private readonly SecurityServerFixture _server;

    public CallCredentialsTests(SecurityServerFixture server) => _server = server;

    public static TheoryData<string> SecureSchemes => ["unix", "pipe", "shm", "mq", "tcps"];

    private static CallCredentials Bearer(string token) => CallCredentials.FromInterceptor((_, metadata) =>
    {
        metadata.Add("authorization", "Bearer " + token);
        return Task.CompletedTask;
    });

    private static async Task<Metadata> UnaryTrailersAsync(ChannelBase channel, CallOptions options, bool echo = false)
    {
        using var call = new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest { EchoMetadata = echo }, options.WithDeadline(DateTime.UtcNow.AddSeconds(20)));
        await call.ResponseAsync.DefaultTimeout();
        return call.GetTrailers();
    }

    [Theory]
    [MemberData(nameof(SecureSchemes))]
    public async Task CallOptionsCredentials_SecureTransport_MetadataReachesServer(string scheme)
    {
        await using var channel = _server.Channel(scheme);

        var trailers = await UnaryTrailersAsync(channel, new CallOptions(credentials: Bearer("call-" + scheme)));

        Assert.Equal("Bearer call-" + scheme, trailers.GetValue("x-authorization"));
    }

    [Theory]
    [MemberData(nameof(SecureSchemes))]
    public async Task ChannelCredentials_SecureTransport_MetadataReachesServerOnEveryCall(string scheme)
    {
        await using var channel = _server.Channel(scheme, new RpcChannelOptions
        {
            Credentials = ChannelCredentials.Create(ChannelCredentials.SecureSsl, Bearer("channel-" + scheme)),
        });

        for (var i = 0; i < 2; i++)
        {
            var trailers = await UnaryTrailersAsync(channel, default);
            Assert.Equal("Bearer channel-" + scheme, trailers.GetValue("x-authorization"));
        }
    }

    [Fact]
    public async Task CallOptionsCredentials_InProcessTransport_MetadataReachesServer()
    {
        var address = $"inproc://creds-{Guid.NewGuid():N}";
        await using var server = new RpcServer();
        server.AddService(new ConformanceService()).Listen(address);
        await server.StartAsync().DefaultTimeout();
        await using var channel = RpcChannel.ForAddress(address);
        var credentials = CallCredentials.FromInterceptor((_, metadata) =>
        {
            metadata.Add("x-echo-token", "inproc-token");
            return Task.CompletedTask;
        });

        var trailers = await UnaryTrailersAsync(channel, new CallOptions(credentials: credentials), echo: true);

        Assert.Equal("inproc-token", trailers.GetValue("x-echo-token"));
    }

    [Fact]
    public async Task CallOptionsCredentials_ChildProcessPipes_MetadataReachesServer()
    {
        var info = new ProcessStartInfo("dotnet");
        info.ArgumentList.Add(TestPaths.TestServerDll);
        info.ArgumentList.Add("--parent-pipes");
        await using var channel = RpcChannel.ForChildProcess(info);

        var trailers = await UnaryTrailersAsync(channel, new CallOptions(credentials: Bearer("child")));

        Assert.Equal("Bearer child", trailers.GetValue("x-authorization"));
    }

    [Fact]
    public async Task CallAndChannelCredentials_Both_CallCredentialsRunFirstAndBothArrive()
    {
        var order = new List<string>();
        var channelCredentials = CallCredentials.FromInterceptor((_, metadata) =>
        {
            lock (order)
            {
                order.Add("channel");
            }

            metadata.Add("x-echo-channel", "from-channel");
            return Task.CompletedTask;
        });
        var callCredentials = CallCredentials.FromInterceptor((_, metadata) =>
        {
            lock (order)
            {
                order.Add("call");
            }

            metadata.Add("authorization", "Bearer from-call");
            return Task.CompletedTask;
        });
        await using var channel = _server.Channel("unix", new RpcChannelOptions
        {
            Credentials = ChannelCredentials.Create(ChannelCredentials.SecureSsl, channelCredentials),
        });

        var trailers = await UnaryTrailersAsync(channel, new CallOptions(headers: [new Metadata.Entry("x-echo-user", "kept")], credentials: callCredentials), echo: true);

        Assert.Equal("Bearer from-call", trailers.GetValue("x-authorization"));
        Assert.Equal("from-channel", trailers.GetValue("x-echo-channel"));
        Assert.Equal("kept", trailers.GetValue("x-echo-user"));
        Assert.Equal(["call", "channel"], order);
    }

    [Fact]
    public async Task CallCredentials_PlainTcpWithUnsafeOption_MetadataReachesServer()
    {
        await using var channel = _server.Channel("tcp", new RpcChannelOptions
        {
            UnsafeUseInsecureChannelCallCredentials = true,
            Credentials = ChannelCredentials.Create(ChannelCredentials.Insecure, Bearer("channel-tcp")),
        });

        await using var perCallChannel = _server.Channel("tcp", new RpcChannelOptions { UnsafeUseInsecureChannelCallCredentials = true });

        var trailers = await UnaryTrailersAsync(channel, default);
        var perCall = await UnaryTrailersAsync(perCallChannel, new CallOptions(credentials: Bearer("call-tcp")));

        Assert.Equal("Bearer channel-tcp", trailers.GetValue("x-authorization"));
        Assert.Equal("Bearer call-tcp", perCall.GetValue("x-authorization"));
    }

    [Fact]
    public async Task CallCredentials_PlainTcp_FailsUnavailableWithoutAskingForTheSecret()
    {
        var asked = false;
        var credentials = CallCredentials.FromInterceptor((_, metadata) =>
        {
            asked = true;
            metadata.Add("authorization", "Bearer secret");
            return Task.CompletedTask;
        });
        await using var channel = _server.Channel("tcp");

        var ex = await Assert.ThrowsAsync<RpcException>(() => UnaryTrailersAsync(channel, new CallOptions(credentials: credentials)));

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("UnsafeUseInsecureChannelCallCredentials", ex.Status.Detail, StringComparison.Ordinal);
        Assert.False(asked);
        // The channel still works for calls without credentials.
        var trailers = await UnaryTrailersAsync(channel, default);
        Assert.Null(trailers.GetValue("x-authorization"));
    }

    [Fact]
    public async Task ChannelCredentials_InsecureCompositeOnPlainTcp_FailsUnavailable()
    {
        await using var channel = _server.Channel("tcp", new RpcChannelOptions
        {
            Credentials = ChannelCredentials.Create(ChannelCredentials.Insecure, Bearer("never-sent")),
        });

        var ex = await Assert.ThrowsAsync<RpcException>(() => UnaryTrailersAsync(channel, default));

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }

    [Fact]
    public void ChannelCredentials_SecureOnPlainTcp_ForAddressThrowsInvalidOperation()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => _server.Channel("tcp", new RpcChannelOptions { Credentials = ChannelCredentials.SecureSsl }));

        Assert.Contains("secure channel credentials", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ChannelCredentials_InsecureOnTls_ForAddressThrowsInvalidOperation()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => _server.Channel("tcps", new RpcChannelOptions { Credentials = ChannelCredentials.Insecure }));

        Assert.Contains("insecure channel credentials", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallCredentials_Interceptor_SeesServiceUrlMethodNameAndCallToken()
    {
        AuthInterceptorContext? seen = null;
        var credentials = CallCredentials.FromInterceptor((context, _) =>
        {
            seen = context;
            return Task.CompletedTask;
        });
        await using var channel = _server.Channel("unix");

        await UnaryTrailersAsync(channel, new CallOptions(credentials: credentials));

        Assert.NotNull(seen);
        Assert.Equal(_server.AddressOf("unix") + "/rpc.testing.TestService", seen.ServiceUrl);
        Assert.Equal("UnaryCall", seen.MethodName);
        Assert.True(seen.CancellationToken.CanBeCanceled);
    }

    [Fact]
    public async Task CallCredentials_InterceptorThrows_FailsInternalNamingTheError()
    {
        var credentials = CallCredentials.FromInterceptor((_, _) => throw new InvalidOperationException("token service down"));
        await using var channel = _server.Channel("unix");

        var ex = await Assert.ThrowsAsync<RpcException>(() => UnaryTrailersAsync(channel, new CallOptions(credentials: credentials)));

        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Equal("Error starting gRPC call. InvalidOperationException: token service down", ex.Status.Detail);
    }

    [Fact]
    public async Task CallCredentials_InterceptorThrowsRpcException_FailsWithItsStatus()
    {
        var credentials = CallCredentials.FromInterceptor((_, _) => throw new RpcException(new Status(StatusCode.Unauthenticated, "no token")));
        await using var channel = _server.Channel("unix");

        var ex = await Assert.ThrowsAsync<RpcException>(() => UnaryTrailersAsync(channel, new CallOptions(credentials: credentials)));

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Equal("no token", ex.Status.Detail);
    }

    [Fact]
    public async Task CallCredentials_InterceptorIgnoresItsToken_CallEndsAtItsDeadline()
    {
        var never = new TaskCompletionSource();
        var credentials = CallCredentials.FromInterceptor((_, _) => never.Task);
        await using var channel = _server.Channel("unix");
        var client = new TestService.TestServiceClient(channel);

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(new SimpleRequest(), new CallOptions(deadline: DateTime.UtcNow.AddMilliseconds(200), credentials: credentials)).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
    }

    [Fact]
    public async Task CallCredentials_CallCancelledWhileInterceptorWaits_InterceptorTokenFiresAndCallIsCancelled()
    {
        var tokenFired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var credentials = CallCredentials.FromInterceptor(async (context, _) =>
        {
            started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                tokenFired.TrySetResult();
                throw;
            }
        });
        await using var channel = _server.Channel("unix");
        using var cts = new CancellationTokenSource();
        using var call = new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest(), new CallOptions(cancellationToken: cts.Token, credentials: credentials));

        await started.Task.DefaultTimeout();
        await cts.CancelAsync();

        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
        await tokenFired.Task.DefaultTimeout();
    }
}
