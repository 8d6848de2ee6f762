using System.Net.Security;
using Grpc.Core;
using Rpc.Client;
using Rpc.Testing;
using Rpc.TestServer;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Http;

/// <summary>How RpcChannelOptions reach a channel on a standard gRPC address: TLS validation, a caller's handler, checks at set time, address forms.</summary>
public sealed class ClientChannelOptionsTests
{
    [Fact]
    public async Task Https_ValidationCallbackTrustsServer_CallSucceeds()
    {
        var certificate = TestCertificates.Server;
        await using var server = await ClientKestrelServer.StartTlsAsync(new ConformanceService(), certificate);
        var seen = 0;
        var options = new RpcChannelOptions
        {
            ServerCertificateValidation = (_, presented, _, _) =>
            {
                Interlocked.Increment(ref seen);
                return presented is not null && presented.GetCertHashString() == certificate.GetCertHashString();
            },
        };
        await using var channel = RpcChannel.ForAddress(server.Address, options);

        var response = await new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest { ResponseSize = 3 }).ResponseAsync.DefaultTimeout();

        Assert.Equal(3, response.Payload.Body.Length);
        Assert.True(seen > 0);
    }

    [Fact]
    public async Task Https_UntrustedCertificate_FailsNamingTls()
    {
        await using var server = await ClientKestrelServer.StartTlsAsync(new ConformanceService(), TestCertificates.Server);
        await using var channel = RpcChannel.ForAddress(server.Address);

        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());

        // Grpc.Net.Client reports a failed TLS handshake as Internal, naming it.
        Assert.NotEqual(StatusCode.OK, ex.StatusCode);
        Assert.Contains("SSL", ex.Status.Detail, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task HttpHandler_CallerSupplied_CarriesCallsAndOutlivesChannel()
    {
        await using var server = await ClientKestrelServer.StartTcpAsync(new ConformanceService());
        using var handler = new SocketsHttpHandler();
        var channel = RpcChannel.ForAddress(server.Address, new RpcChannelOptions { HttpHandler = handler });
        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        await channel.DisposeAsync().DefaultTimeout();

        // The caller's handler is the caller's: a second channel can still use it.
        await using var again = RpcChannel.ForAddress(server.Address, new RpcChannelOptions { HttpHandler = handler });
        await new TestService.TestServiceClient(again).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public void Options_HandlerAndValidationTogether_RejectedWhenSet()
    {
        using var handler = new SocketsHttpHandler();
        RemoteCertificateValidationCallback trustAll = (_, certificate, _, _) => certificate is not null;
        var withHandler = new RpcChannelOptions { HttpHandler = handler };
        Assert.Throws<InvalidOperationException>(() => withHandler.ServerCertificateValidation = trustAll);
        var withValidation = new RpcChannelOptions { ServerCertificateValidation = trustAll };
        Assert.Throws<InvalidOperationException>(() => withValidation.HttpHandler = handler);
    }

    [Fact]
    public void Options_OutOfRangeValues_RejectedWhenSet()
    {
        var options = new RpcChannelOptions();
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxSendMessageSize = 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxReceiveMessageSize = -1);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.ConnectTimeout = TimeSpan.Zero);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.ConnectTimeout = Timeout.InfiniteTimeSpan);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.InitialReconnectBackoff = TimeSpan.FromSeconds(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => options.CloseTimeout = TimeSpan.FromSeconds(-1));
        Assert.True(options.SameHostUpgrade);
    }

    [Theory]
    [InlineData("http://")]
    [InlineData("https://:5000")]
    [InlineData("http+unix://")]
    [InlineData("http+unix:")]
    public void ForAddress_MalformedHttpAddress_ThrowsArgumentException(string address) =>
        Assert.Throws<ArgumentException>(() => RpcChannel.ForAddress(address));

    [Fact]
    public async Task ForAddress_PercentEncodedUnixSocket_ReachesServer()
    {
        var path = TestPaths.NewSocketPath();
        await using var server = await ClientKestrelServer.StartUnixAsync(new ConformanceService(), path);
        await using var channel = RpcChannel.ForAddress("http+unix://" + Uri.EscapeDataString(path));

        var response = await new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest { ResponseSize = 1 }).ResponseAsync.DefaultTimeout();

        Assert.Equal(1, response.Payload.Body.Length);
    }

    [Fact]
    public async Task ForAddress_NoServerOnSocket_FailsUnavailable()
    {
        await using var channel = RpcChannel.ForAddress("http+unix://" + TestPaths.NewSocketPath());

        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }
}
