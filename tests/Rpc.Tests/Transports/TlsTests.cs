using Grpc.Core;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.TestServer;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Tcp;
using Xunit;

namespace Rpc.Tests.Transports;

public sealed class TlsTests
{
    [Fact]
    public async Task UntrustedServerCertificate_IsRefused()
    {
        await using var server = await StartAsync(new TcpTransportOptions { ServerCertificate = TestCertificates.Server });
        // The default validation trusts the platform's roots, which do not include a self-signed test certificate.
        await using var channel = RpcChannel.ForAddress(server.BoundAddresses[0]);
        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("TLS", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongServerCertificate_IsRefused()
    {
        var impostor = TestCertificates.Create("CN=impostor");
        await using var server = await StartAsync(new TcpTransportOptions { ServerCertificate = impostor });
        await using var channel = RpcChannel.ForAddress(server.BoundAddresses[0], new RpcChannelOptions
        {
            Transports = Conformance.TlsConformanceTests.TrustingRegistry(TestCertificates.Server.Thumbprint),
        });
        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }

    [Fact]
    public async Task ClientCertificateRequired_ClientWithout_IsRefused_ClientWith_IsServed()
    {
        var clientCertificate = TestCertificates.Create("CN=client");
        await using var server = await StartAsync(new TcpTransportOptions
        {
            ServerCertificate = TestCertificates.Server,
            ClientCertificateRequired = true,
            RemoteCertificateValidation = (_, certificate, _, _) => certificate?.Subject == "CN=client",
        });

        await using (var anonymous = RpcChannel.ForAddress(server.BoundAddresses[0], new RpcChannelOptions { Transports = Conformance.TlsConformanceTests.TrustingRegistry(TestCertificates.Server.Thumbprint) }))
        {
            var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(anonymous).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
            Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        }

        var transports = TransportRegistry.CreateDefault();
        transports.Register(new TcpTransport(new TcpTransportOptions
        {
            ClientCertificate = clientCertificate,
            RemoteCertificateValidation = (_, certificate, _, _) => certificate is System.Security.Cryptography.X509Certificates.X509Certificate2 c && c.Thumbprint == TestCertificates.Server.Thumbprint,
        }));
        await using var identified = RpcChannel.ForAddress(server.BoundAddresses[0], new RpcChannelOptions { Transports = transports });
        await new TestService.TestServiceClient(identified).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task TlsListenerWithoutCertificate_FailsToStartWithClearError()
    {
        await using var server = new RpcServer();
        server.AddService(new ConformanceService()).Listen("tcps://127.0.0.1:0");
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync());
        Assert.Contains("ServerCertificate", ex.Message, StringComparison.Ordinal);
    }

    private static async Task<RpcServer> StartAsync(TcpTransportOptions options)
    {
        var transports = TransportRegistry.CreateDefault();
        transports.Register(new TcpTransport(options));
        var server = new RpcServer(new RpcServerOptions { Transports = transports });
        server.AddService(new ConformanceService()).Listen("tcps://127.0.0.1:0");
        await server.StartAsync().DefaultTimeout();
        return server;
    }
}
