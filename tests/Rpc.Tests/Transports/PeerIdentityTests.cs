using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Internal;
using Rpc.Transports.Pipes;
using Rpc.Transports.Sockets;
using Rpc.Transports.Tcp;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>Who is on the other end reaches the connection, and local listeners admit only the users allowed.</summary>
public sealed class PeerIdentityTests
{
    private const uint Nobody = 65534;

    [Fact]
    public async Task AcceptAsync_UnixPeer_CarriesItsProcessAndUser()
    {
        var path = TestPaths.NewSocketPath();
        var transport = new UnixSocketTransport(new UnixSocketTransportOptions());
        await using var listener = await transport.BindAsync(TransportAddress.Parse("unix://" + path), new ListenOptions(), CancellationToken.None).DefaultTimeout();
        var accept = listener.AcceptAsync().AsTask();
        await using var client = await transport.ConnectAsync(listener.Address, CancellationToken.None).DefaultTimeout();
        await using var server = await accept.DefaultTimeout();

        Assert.Equal(Environment.ProcessId, server!.PeerIdentity?.ProcessId);
        Assert.Equal(LocalPeerPolicy.ServerUserId, server.PeerIdentity?.UserId);
        Assert.StartsWith($"unix:pid={Environment.ProcessId},uid={LocalPeerPolicy.ServerUserId}", server.Peer, StringComparison.Ordinal);
        // The client knows who serves it, too.
        Assert.Equal(Environment.ProcessId, client.PeerIdentity?.ProcessId);
    }

    [Fact]
    public async Task AcceptAsync_NamedPipePeer_CarriesItsProcessAndUser()
    {
        var address = TransportAddress.Parse("pipe://rpct-" + Guid.NewGuid().ToString("N")[..12]);
        var transport = new NamedPipeTransport();
        await using var listener = await transport.BindAsync(address, new ListenOptions(), CancellationToken.None).DefaultTimeout();
        var accept = listener.AcceptAsync().AsTask();
        await using var client = await transport.ConnectAsync(address, CancellationToken.None).DefaultTimeout();
        await using var server = await accept.DefaultTimeout();

        Assert.Equal(Environment.ProcessId, server!.PeerIdentity?.ProcessId);
        Assert.Equal(LocalPeerPolicy.ServerUserId, server.PeerIdentity?.UserId);
        Assert.StartsWith("pipe:pid=", server.Peer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AcceptAsync_TlsClientCertificate_ReachesThePeerIdentity()
    {
        var clientCertificate = TestCertificates.Create("CN=client");
        var server = new TcpTransport(new TcpTransportOptions
        {
            ServerCertificate = TestCertificates.Server,
            ClientCertificateRequired = true,
            RemoteCertificateValidation = (_, certificate, _, _) => certificate?.Subject == "CN=client",
        });
        var client = new TcpTransport(new TcpTransportOptions
        {
            ClientCertificate = clientCertificate,
            RemoteCertificateValidation = (_, certificate, _, _) => certificate is X509Certificate2 c && c.Thumbprint == TestCertificates.Server.Thumbprint,
        });
        await using var listener = await server.BindAsync(TransportAddress.Parse("tcps://127.0.0.1:0"), new ListenOptions(), CancellationToken.None).DefaultTimeout();
        var accept = listener.AcceptAsync().AsTask();
        await using var connected = await client.ConnectAsync(listener.Address, CancellationToken.None).DefaultTimeout();
        await using var accepted = await accept.DefaultTimeout();

        Assert.Equal(clientCertificate.Thumbprint, accepted!.PeerIdentity?.Certificate?.Thumbprint);
        Assert.Equal(TestCertificates.Server.Thumbprint, connected.PeerIdentity?.Certificate?.Thumbprint);
        Assert.StartsWith("ipv4:127.0.0.1:", accepted.Peer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AcceptAsync_Ipv6Peer_IsLabelledIpv6()
    {
        var transport = new TcpTransport(new TcpTransportOptions());
        await using var listener = await transport.BindAsync(TransportAddress.Parse("tcp://[::1]:0"), new ListenOptions(), CancellationToken.None).DefaultTimeout();
        var accept = listener.AcceptAsync().AsTask();
        await using var client = await transport.ConnectAsync(listener.Address, CancellationToken.None).DefaultTimeout();
        await using var server = await accept.DefaultTimeout();

        Assert.StartsWith("ipv6:[::1]:", server!.Peer, StringComparison.Ordinal);
        Assert.StartsWith("ipv6:[::1]:", client.Peer, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1000u, 1000u, false, "", "", true)] // the server's own user
    [InlineData(1001u, 1001u, false, "", "", false)] // anyone else, by default
    [InlineData(1001u, 1001u, false, "1001", "", true)]
    [InlineData(1001u, 50u, false, "", "50", true)]
    [InlineData(1001u, 51u, false, "1002", "50", false)]
    [InlineData(1001u, 1001u, true, "", "", true)]
    public void Check_Policy_AdmitsOnlyWhomTheOptionsAllow(uint userId, uint groupId, bool anyUser, string users, string groups, bool admitted)
    {
        var options = new ListenOptions { AllowAnyUser = anyUser };
        foreach (var user in users.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            options.AllowedUserIds.Add(uint.Parse(user, System.Globalization.CultureInfo.InvariantCulture));
        }

        foreach (var group in groups.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            options.AllowedGroupIds.Add(uint.Parse(group, System.Globalization.CultureInfo.InvariantCulture));
        }

        var reason = LocalPeerPolicy.Check(options, new PeerIdentity { ProcessId = 1, UserId = userId, GroupId = groupId }, serverUserId: 1000);

        Assert.Equal(admitted, reason is null);
        if (!admitted)
        {
            Assert.Contains($"user {userId}", reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AcceptAsync_PeerOfAnotherUser_IsRefusedAndLogged_UnlessAllowed()
    {
        if (!CanRunAsNobody())
        {
            // Without a way to start a peer as another user, the refusal rests on the policy alone.
            Assert.NotNull(LocalPeerPolicy.Check(new ListenOptions(), new PeerIdentity { UserId = Nobody }, serverUserId: Nobody - 1));
            return;
        }

        var path = TestPaths.NewSocketPath();
        var logger = new ListLogger();
        var transport = new UnixSocketTransport(new UnixSocketTransportOptions());
        // The file mode lets every user reach the socket, so only the accept-time check stands in the way.
        var open = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
        await using (var listener = await transport.BindAsync(TransportAddress.Parse("unix://" + path), new ListenOptions { FileMode = open, Logger = logger }, CancellationToken.None).DefaultTimeout())
        {
            Assert.Equal(open, File.GetUnixFileMode(path));
            using var stranger = ConnectAsNobody(path);
            await logger.WaitForAsync($"user {Nobody}").DefaultTimeout();
            Assert.True(logger.Contains("refused a connection"), logger.ToString());
            Assert.Equal(0, ((AcceptingListener<System.Net.Sockets.Socket>)listener).ReadyCount);
            await stranger.WaitForExitAsync().DefaultTimeout();
        }

        var allowing = new ListenOptions { FileMode = open, Logger = logger };
        allowing.AllowedUserIds.Add(Nobody);
        await using (var listener = await transport.BindAsync(TransportAddress.Parse("unix://" + path), allowing, CancellationToken.None).DefaultTimeout())
        {
            using var friend = ConnectAsNobody(path);
            var accepted = await listener.AcceptAsync().DefaultTimeout();
            Assert.Equal(Nobody, accepted!.PeerIdentity?.UserId);
            await accepted.DisposeAsync().DefaultTimeout();
            await friend.WaitForExitAsync().DefaultTimeout();
        }
    }

    private static bool CanRunAsNobody() =>
        OperatingSystem.IsLinux() && LocalPeerPolicy.ServerUserId == 0 && File.Exists("/usr/bin/setpriv") && File.Exists("/usr/bin/perl");

    /// <summary>A process of user nobody that connects to <paramref name="path"/> and waits for the server to close.</summary>
    private static Process ConnectAsNobody(string path)
    {
        var info = new ProcessStartInfo("/usr/bin/setpriv") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { $"--reuid={Nobody}", $"--regid={Nobody}", "--clear-groups", "/usr/bin/perl", "-MIO::Socket::UNIX", "-e",
                     "my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $ARGV[0]) or die \"connect: $!\"; alarm 20; my $b; sysread($s, $b, 1);", path })
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("setpriv did not start");
    }
}
