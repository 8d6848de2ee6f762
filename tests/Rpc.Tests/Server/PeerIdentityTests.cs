using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Rpc.Client;
using Rpc.Server;
using Rpc.Server.Internal;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Tcp;
using Xunit;

namespace Rpc.Tests.Server;

/// <summary>Handlers learn who called: the local user and process, or the TLS client certificate.</summary>
public sealed class PeerIdentityTests
{
    [Fact]
    public void Create_LocalPeer_LocalSecurityWithUidGidPid()
    {
        var auth = PeerAuthContext.Create(new PeerIdentity { UserId = 1000, GroupId = 100, ProcessId = 4242 });

        Assert.Equal("local", Single(auth, "transport_security_type"));
        Assert.Equal("1000", Single(auth, "peer_uid"));
        Assert.Equal("100", Single(auth, "peer_gid"));
        Assert.Equal("4242", Single(auth, "peer_pid"));
        Assert.True(auth.IsPeerAuthenticated);
        Assert.Equal("peer_uid", auth.PeerIdentityPropertyName);
    }

    [Fact]
    public void Create_CertificatePeer_X509PropertiesAsGrpcDotnet()
    {
        using var certificate = TestCertificates.Create("CN=client");
        var auth = PeerAuthContext.Create(new PeerIdentity { Certificate = certificate });

        AssertCertificate(auth, certificate);
    }

    [Fact]
    public void Create_NothingKnown_Unauthenticated()
    {
        var auth = PeerAuthContext.Create(null);

        Assert.False(auth.IsPeerAuthenticated);
        Assert.Empty(auth.Properties);
    }

    // Passes once the Unix socket transport fills PeerIdentity from SO_PEERCRED.
    [Fact]
    public async Task AuthContext_UnixPeer_LocalWithOwnUidAndPid()
    {
        var service = new IdentityService();
        await using var server = await TestServer.StartAsync(service);
        await new TestService.TestServiceClient(server.Channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        var (auth, peer) = await service.Seen.Task.DefaultTimeout();

        var uid = CurrentUserId();
        Assert.Equal("local", Single(auth, "transport_security_type"));
        Assert.Equal(uid, Single(auth, "peer_uid"));
        Assert.Equal(Environment.ProcessId.ToString(CultureInfo.InvariantCulture), Single(auth, "peer_pid"));
        Assert.StartsWith("unix:", peer, StringComparison.Ordinal);
        Assert.Contains("uid=" + uid, peer, StringComparison.Ordinal);
    }

    // Passes once the TLS transport fills PeerIdentity with the client certificate.
    [Fact]
    public async Task AuthContext_TlsClientCertificate_X509Properties()
    {
        using var clientCertificate = TestCertificates.Create("CN=client");
        var serverTransports = TransportRegistry.CreateDefault();
        serverTransports.Register(new TcpTransport(new TcpTransportOptions
        {
            ServerCertificate = TestCertificates.Server,
            ClientCertificateRequired = true,
            RemoteCertificateValidation = (_, certificate, _, _) => certificate?.Subject == "CN=client",
        }));
        var service = new IdentityService();
        await using var server = new RpcServer(new RpcServerOptions { Transports = serverTransports });
        server.AddService(service).Listen("tcps://127.0.0.1:0");
        await server.StartAsync().DefaultTimeout();

        var clientTransports = TransportRegistry.CreateDefault();
        clientTransports.Register(new TcpTransport(new TcpTransportOptions
        {
            ClientCertificate = clientCertificate,
            RemoteCertificateValidation = (_, certificate, _, _) => certificate is X509Certificate2 c && c.Thumbprint == TestCertificates.Server.Thumbprint,
        }));
        await using var channel = RpcChannel.ForAddress(server.BoundAddresses[0], new RpcChannelOptions { Transports = clientTransports });
        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        var (auth, _) = await service.Seen.Task.DefaultTimeout();

        AssertCertificate(auth, clientCertificate);
    }

    private static void AssertCertificate(AuthContext auth, X509Certificate2 certificate)
    {
        Assert.Equal("ssl", Single(auth, "transport_security_type"));
        Assert.Equal("client", Single(auth, "x509_common_name"));
        var names = auth.FindPropertiesByName("x509_subject_alternative_name").Select(p => p.Value).ToList();
        Assert.Contains("localhost", names);
        Assert.Contains("127.0.0.1", names);
        Assert.Equal(certificate.ExportCertificatePem(), Single(auth, "x509_pem_cert"));
        Assert.True(auth.IsPeerAuthenticated);
        Assert.Equal("x509_subject_alternative_name", auth.PeerIdentityPropertyName);
    }

    private static string Single(AuthContext auth, string name) => Assert.Single(auth.FindPropertiesByName(name)).Value;

    /// <summary>This process's effective user id, read where the kernel reports it.</summary>
    private static string CurrentUserId() =>
        File.ReadLines("/proc/self/status").First(line => line.StartsWith("Uid:", StringComparison.Ordinal))
            .Split('\t', StringSplitOptions.RemoveEmptyEntries)[2];

    private sealed class IdentityService : TestService.TestServiceBase
    {
        public TaskCompletionSource<(AuthContext Auth, string Peer)> Seen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override Task<Empty> EmptyCall(Empty request, ServerCallContext context)
        {
            Seen.TrySetResult((context.AuthContext, context.Peer));
            return Task.FromResult(new Empty());
        }
    }
}
