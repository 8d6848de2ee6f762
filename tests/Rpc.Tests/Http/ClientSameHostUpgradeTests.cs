using Grpc.Core;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.TestServer;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Xunit;

namespace Rpc.Tests.Http;

/// <summary>
/// The same-host upgrade, end to end: a stock Kestrel server advertises (in the response header
/// an RpcServer sends) the local endpoints of an RpcServer that serves the same service instance,
/// and the handler's <c>context.Peer</c> tells which protocol carried each call.
/// </summary>
public sealed class ClientSameHostUpgradeTests : IAsyncLifetime
{
    private readonly ConformanceService _service = new();
    private readonly string _shm = $"shm://rpct-{Guid.NewGuid():N}";
    private readonly string _socket = TestPaths.NewSocketPath();
    private readonly ClientLogCollector _log = new();
    private RpcServer? _local;
    private ClientKestrelServer? _http;

    public async Task InitializeAsync()
    {
        _local = new RpcServer();
        _local.AddService(_service).Listen(_shm).Listen("unix://" + _socket);
        await _local.StartAsync().DefaultTimeout();
    }

    public async Task DisposeAsync()
    {
        if (_http is not null)
        {
            await _http.DisposeAsync().DefaultTimeout();
        }

        if (_local is not null)
        {
            await _local.DisposeAsync().DefaultTimeout();
        }
    }

    private Task StartHttpAsync(string endpoints, uint? userId = null, string? hostId = null)
    {
        var advertisement = new LocalEndpoints(hostId ?? LocalEndpoints.CurrentHostId, userId ?? CurrentUserId(), endpoints.Split(','));
        return StartHttpWithHeaderAsync(advertisement.Format());
    }

    private async Task StartHttpWithHeaderAsync(string headerValue) =>
        _http = await ClientKestrelServer.StartTcpAsync(_service, new KeyValuePair<string, string>(LocalEndpoints.HeaderName, headerValue));

    [Fact]
    public async Task Upgrade_ServerAdvertisesShm_LaterCallsArriveOverShm()
    {
        await StartHttpAsync($"{_shm},unix://{_socket}");
        await using var channel = RpcChannel.ForAddress(_http!.Address, Options());
        var client = new TestService.TestServiceClient(channel);

        var first = await client.UnaryCallAsync(new SimpleRequest()).ResponseAsync.DefaultTimeout();
        Assert.StartsWith("ipv4:", first.Peer);
        var peer = await PeerOnceItChangesAsync(client, from: "ipv4:");
        Assert.StartsWith("shm:", peer);

        // Every call kind, metadata and errors keep working on the new path.
        var echo = await client.UnaryCallAsync(new SimpleRequest { EchoMetadata = true }, new Metadata { { "x-echo-k", "v" } }).ResponseHeadersAsync.DefaultTimeout();
        Assert.Equal("v", echo.GetValue("x-echo-k"));
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(new SimpleRequest { ResponseStatus = new EchoStatus { Code = (int)StatusCode.NotFound, Message = "nope" } }).ResponseAsync.DefaultTimeout());
        Assert.Equal((StatusCode.NotFound, "nope"), (ex.StatusCode, ex.Status.Detail));
        using var duplex = client.FullDuplexCall();
        var request = new StreamingOutputCallRequest();
        request.ResponseParameters.Add(new ResponseParameters { Size = 3 });
        await duplex.RequestStream.WriteAsync(request).DefaultTimeout();
        Assert.True(await duplex.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        await duplex.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await duplex.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
    }

    [Fact]
    public async Task Upgrade_FirstCallFails_ChannelStillUpgradesAndErrorArrivesIntact()
    {
        await StartHttpAsync(_shm);
        await using var channel = RpcChannel.ForAddress(_http!.Address, Options());
        var client = new TestService.TestServiceClient(channel);

        // The advertisement may come on an error (a trailers-only response); the error is the caller's as usual.
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(new SimpleRequest { ResponseStatus = new EchoStatus { Code = (int)StatusCode.PermissionDenied, Message = "first" } }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.StartsWith("shm:", await PeerOnceItChangesAsync(client, from: "ipv4:"));
    }

    [Fact]
    public async Task Upgrade_OnlyUnixAdvertised_LaterCallsArriveOverUnix()
    {
        await StartHttpAsync($"tcp://127.0.0.1:1,unix://{_socket}");
        await using var channel = RpcChannel.ForAddress(_http!.Address, Options());
        var client = new TestService.TestServiceClient(channel);

        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        var peer = await PeerOnceItChangesAsync(client, from: "ipv4:");
        Assert.StartsWith("unix:", peer);
    }

    [Fact]
    public async Task Upgrade_RpcServerStops_CallsGoBackToHttpAndSucceed()
    {
        await StartHttpAsync(_shm);
        await using var channel = RpcChannel.ForAddress(_http!.Address, Options());
        var client = new TestService.TestServiceClient(channel);
        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        Assert.StartsWith("shm:", await PeerOnceItChangesAsync(client, from: "ipv4:"));

        await _local!.ShutdownAsync().DefaultTimeout();

        for (var i = 0; i < 20; i++)
        {
            var response = await client.UnaryCallAsync(new SimpleRequest { ResponseSize = 5 }).ResponseAsync.DefaultTimeout();
            Assert.StartsWith("ipv4:", response.Peer);
            Assert.Equal(5, response.Payload.Body.Length);
        }
    }

    [Fact]
    public async Task Upgrade_RpcServerStopsUnderLoad_EveryUnaryCallSucceeds()
    {
        await StartHttpAsync(_shm);
        await using var channel = RpcChannel.ForAddress(_http!.Address, Options());
        var client = new TestService.TestServiceClient(channel);
        Assert.StartsWith("shm:", await PeerOnceItChangesAsync(client, from: "ipv4:"));

        // Calls race the shutdown: the ones it refuses (GOAWAY) or that find the endpoint gone
        // never reached the server, so the channel sends them over HTTP/2 instead of failing them.
        using var stopped = new CancellationTokenSource();
        var callers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var calls = 0;
            var afterStop = 0;
            while (afterStop < 20)
            {
                var response = await client.UnaryCallAsync(new SimpleRequest { ResponseSize = 5 }).ResponseAsync.DefaultTimeout();
                Assert.Equal(5, response.Payload.Body.Length);
                calls++;
                afterStop += stopped.IsCancellationRequested ? 1 : 0;
            }

            return calls;
        })).ToArray();
        await _local!.ShutdownAsync().DefaultTimeout();
        await stopped.CancelAsync();
        await Task.WhenAll(callers).DefaultTimeout();

        var last = await client.UnaryCallAsync(new SimpleRequest()).ResponseAsync.DefaultTimeout();
        Assert.StartsWith("ipv4:", last.Peer);
    }

    [Fact]
    public async Task Upgrade_TurnedOff_CallsStayOnHttp()
    {
        await StartHttpAsync(_shm);
        await using var channel = RpcChannel.ForAddress(_http!.Address, Options(upgrade: false));
        await AssertStaysOnHttpAsync(new TestService.TestServiceClient(channel));
    }

    [Fact]
    public async Task Upgrade_AnotherUserAdvertised_CallsStayOnHttp()
    {
        await StartHttpAsync(_shm, userId: CurrentUserId() + 1);
        await using var channel = RpcChannel.ForAddress(_http!.Address, Options());
        await AssertStaysOnHttpAsync(new TestService.TestServiceClient(channel));
    }

    [Fact]
    public async Task Upgrade_EndpointServedByAnotherUser_RefusedBeforeAnyCall()
    {
        await StartHttpAsync($"unix://{_socket}");
        var registry = TransportRegistry.CreateDefault();
        var impostor = new ClientImpostorTransport(registry.Resolve(TransportAddress.Parse("unix://" + _socket)), CurrentUserId() + 1);
        registry.Register(impostor);
        var options = Options();
        options.Transports = registry;
        await using var channel = RpcChannel.ForAddress(_http!.Address, options);

        await AssertStaysOnHttpAsync(new TestService.TestServiceClient(channel));
        Assert.True(impostor.Connects > 0, "the client never tried the advertised endpoint");
        Assert.Contains($"not by the advertised uid {CurrentUserId()}", _log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upgrade_AnotherHostAdvertised_CallsStayOnHttp()
    {
        await StartHttpAsync(_shm, hostId: "0123456789abcdef0123456789abcdef");
        await using var channel = RpcChannel.ForAddress(_http!.Address, Options());
        await AssertStaysOnHttpAsync(new TestService.TestServiceClient(channel));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("v=2;host=x;uid=0;endpoints=shm://x")]
    public async Task Upgrade_MalformedAdvertisement_CallsStayOnHttp(string value)
    {
        await StartHttpWithHeaderAsync(value);
        await using var channel = RpcChannel.ForAddress(_http!.Address, Options());
        await AssertStaysOnHttpAsync(new TestService.TestServiceClient(channel));
    }

    [Fact]
    public async Task Upgrade_AdvertisedEndpointMissing_CallsStayOnHttpAndSucceed()
    {
        await StartHttpAsync($"shm://rpct-{Guid.NewGuid():N},unix://{TestPaths.NewSocketPath()}");
        await using var channel = RpcChannel.ForAddress(_http!.Address, Options());
        await AssertStaysOnHttpAsync(new TestService.TestServiceClient(channel));
    }

    private RpcChannelOptions Options(bool upgrade = true) => new() { SameHostUpgrade = upgrade, LoggerFactory = _log.Factory };

    /// <summary>
    /// Calls until the server reports another peer than <paramref name="from"/>; every call on the
    /// way must succeed (the upgrade never delays or fails a call). Bounded by the default timeout.
    /// </summary>
    private async Task<string> PeerOnceItChangesAsync(TestService.TestServiceClient client, string from)
    {
        using var timeout = new CancellationTokenSource(Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        while (true)
        {
            var response = await client.UnaryCallAsync(new SimpleRequest()).ResponseAsync.DefaultTimeout();
            if (!response.Peer.StartsWith(from, StringComparison.Ordinal))
            {
                return response.Peer;
            }

            Assert.False(timeout.IsCancellationRequested, $"Calls still arrive as {response.Peer} after {Infrastructure.TaskExtensions.DefaultTimeoutSpan}; the channel logged:\n{_log}");
            await Task.Delay(10);
        }
    }

    /// <summary>
    /// Many calls, spread over well past the time an upgrade takes when it happens (the tests above),
    /// all arrive over HTTP/2.
    /// </summary>
    private static async Task AssertStaysOnHttpAsync(TestService.TestServiceClient client)
    {
        for (var i = 0; i < 50; i++)
        {
            var response = await client.UnaryCallAsync(new SimpleRequest()).ResponseAsync.DefaultTimeout();
            Assert.StartsWith("ipv4:", response.Peer);
            await Task.Delay(10);
        }
    }

    private static uint CurrentUserId() => uint.Parse(
        File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[2],
        System.Globalization.CultureInfo.InvariantCulture);
}
