using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Tcp;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>Peers that connect and then say nothing must not stop a listener from serving others.</summary>
[Collection(RunsAlone.Name)]
public sealed class SilentClientTests
{
    private const int SilentClients = 300;

    [Fact]
    public async Task AcceptAsync_HundredsOfSilentTlsClients_RealClientIsAcceptedPromptly()
    {
        // A handshake timeout far beyond the bound below: were handshakes still run one at a
        // time inside accept, the real client would wait behind every silent one.
        var transport = new TcpTransport(new TcpTransportOptions
        {
            ServerCertificate = TestCertificates.Server,
            TlsHandshakeTimeout = TimeSpan.FromMinutes(2),
        });
        var client = new TcpTransport(new TcpTransportOptions
        {
            RemoteCertificateValidation = (_, certificate, _, _) => certificate is X509Certificate2 c && c.Thumbprint == TestCertificates.Server.Thumbprint,
            TlsHandshakeTimeout = TimeSpan.FromMinutes(2),
        });
        await using var listener = await transport.BindAsync(TransportAddress.Parse("tcps://127.0.0.1:0"), new ListenOptions(), CancellationToken.None).DefaultTimeout();
        var port = int.Parse(listener.Address.Target.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        var silent = new List<Socket>();
        try
        {
            for (var i = 0; i < SilentClients; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                silent.Add(socket);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).DefaultTimeout();
            }

            var stopwatch = Stopwatch.StartNew();
            var accept = listener.AcceptAsync().AsTask();
            await using var connected = await client.ConnectAsync(listener.Address, CancellationToken.None).DefaultTimeout();
            await using var accepted = await accept.DefaultTimeout();
            stopwatch.Stop();

            Assert.NotNull(accepted);
            // Generous, to prove only that the real client did not queue behind the silent ones.
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(15), $"The real client took {stopwatch.Elapsed} behind {SilentClients} silent ones.");
        }
        finally
        {
            foreach (var socket in silent)
            {
                socket.Dispose();
            }
        }
    }
}
