using System.Net;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Http;

/// <summary>https:// addresses: TLS with the certificate from RpcServerOptions, HTTP/2 and HTTP/1.1 chosen by ALPN.</summary>
public sealed class ServerHttpsTests
{
    [Fact]
    public async Task Listen_Https_GrpcChannelTrustingTheCertificateCallsOverHttp2()
    {
        var certificate = TestCertificates.Create("CN=localhost");
        await using var server = await ServerHttpTests.StartAsync(new RpcServerOptions { HttpsCertificate = certificate }, "https://127.0.0.1:0");
        var address = Assert.Single(server.BoundAddresses);
        Assert.StartsWith("https://127.0.0.1:", address, StringComparison.Ordinal);

        using var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = Trusting(certificate) });
        var response = await new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest { ResponseSize = 9 }).ResponseAsync.DefaultTimeout();
        Assert.Equal(9, response.Payload.Body.Length);
    }

    [Fact]
    public async Task Listen_Https_Http11ClientIsServedOverTheSamePort()
    {
        var certificate = TestCertificates.Create("CN=localhost");
        await using var server = await ServerHttpTests.StartAsync(new RpcServerOptions { HttpsCertificate = certificate }, "https://127.0.0.1:0");
        using var http = new HttpClient(Trusting(certificate));
        using var request = new HttpRequestMessage(HttpMethod.Get, server.BoundAddresses[0] + "/") { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await http.SendAsync(request).DefaultTimeout();
        // ALPN chose HTTP/1.1; the server answers it (no gRPC route at '/').
        Assert.Equal(HttpVersion.Version11, response.Version);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Listen_Https_UntrustedCertificate_CallFailsNamingTls()
    {
        await using var server = await ServerHttpTests.StartAsync(new RpcServerOptions { HttpsCertificate = TestCertificates.Create("CN=localhost") }, "https://127.0.0.1:0");
        using var channel = GrpcChannel.ForAddress(server.BoundAddresses[0]);
        var ex = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        // Grpc.Net.Client reports a refused certificate as Internal, naming the TLS failure.
        Assert.Equal(Grpc.Core.StatusCode.Internal, ex.StatusCode);
        Assert.Contains("SSL", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void HttpsCertificate_WithoutPrivateKey_ThrowsWhenSet()
    {
        using var publicOnly = X509CertificateLoader.LoadCertificate(TestCertificates.Create("CN=localhost").Export(X509ContentType.Cert));
        var options = new RpcServerOptions();
        var ex = Assert.Throws<ArgumentException>(() => options.HttpsCertificate = publicOnly);
        Assert.Contains("private key", ex.Message, StringComparison.Ordinal);
    }

    private static SocketsHttpHandler Trusting(X509Certificate2 certificate) => new()
    {
        SslOptions = { RemoteCertificateValidationCallback = (_, presented, _, _) => presented is X509Certificate2 c && c.Thumbprint == certificate.Thumbprint },
    };
}
