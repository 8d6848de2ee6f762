using System.Net.Sockets;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.SharedMemory;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>The segment handshake under faults: a server killed in it, clients that never speak.</summary>
public sealed class SharedMemoryHandshakeTests
{
    // Only a bound that proves "does not wait for the silent clients' handshake timeouts".
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ServerKilledMidHandshake_LeavesNothingInDevShm()
    {
        var before = SegmentFiles();
        var address = $"shm://rpct-{Guid.NewGuid():N}";
        var path = new SharedMemoryTransport(new SharedMemoryTransportOptions()).GetRendezvousPath(TransportAddress.Parse(address));
        var server = await ServerProcess.StartAsync(address);
        try
        {
            using var control = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await control.ConnectAsync(new UnixDomainSocketEndPoint(path)).DefaultTimeout();
            await control.SendAsync("RPCSHM02"u8.ToArray(), SocketFlags.None).DefaultTimeout();
            // Once the server replies it has made the segment and waits for an answer that never comes.
            var reply = new byte[13];
            for (var received = 0; received < reply.Length;)
            {
                var count = await control.ReceiveAsync(reply.AsMemory(received), SocketFlags.None).DefaultTimeout();
                Assert.NotEqual(0, count);
                received += count;
            }

            Assert.Equal("RPCSHM02"u8.ToArray(), reply[..8]);

            await server.Process.KillAsync();

            Assert.Empty(SegmentFiles().Except(before));
        }
        finally
        {
            await server.DisposeAsync();
            // Killed, the server could not remove its rendezvous socket nor its lock file.
            File.Delete(path);
            File.Delete(path + ".lock");
        }
    }

    [Fact]
    public async Task Accept_ManySilentClients_RealClientStillConnects()
    {
        const int silentCount = 200;
        var transport = new SharedMemoryTransport(new SharedMemoryTransportOptions { HandshakeTimeout = TimeSpan.FromMinutes(1) });
        var address = TransportAddress.Parse($"shm://rpct-{Guid.NewGuid():N}");
        await using var listener = await transport.BindAsync(address, new ListenOptions(), CancellationToken.None).DefaultTimeout();
        var silent = new List<Socket>();
        try
        {
            for (var i = 0; i < silentCount; i++)
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                silent.Add(socket);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(transport.GetRendezvousPath(address))).DefaultTimeout();
            }

            var accepting = listener.AcceptAsync().AsTask();
            await using var client = await transport.ConnectAsync(address, CancellationToken.None).AsTask().WaitAsync(Prompt);
            await using var server = (await accepting.WaitAsync(Prompt))!;

            Assert.NotNull(server.PeerIdentity);
            // The silent ones are still waiting in their own handshakes, not ahead of the real one.
            Assert.Equal(silentCount, ((SharedMemoryListener)listener).PendingHandshakes);
        }
        finally
        {
            silent.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task Dispose_WithSilentClientsAndUnacceptedConnections_EndsPromptlyAndReleasesThem()
    {
        var transport = new SharedMemoryTransport(new SharedMemoryTransportOptions { HandshakeTimeout = TimeSpan.FromMinutes(1) });
        var address = TransportAddress.Parse($"shm://rpct-{Guid.NewGuid():N}");
        var listener = await transport.BindAsync(address, new ListenOptions(), CancellationToken.None).DefaultTimeout();
        using var silent = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await silent.ConnectAsync(new UnixDomainSocketEndPoint(transport.GetRendezvousPath(address))).DefaultTimeout();
        // Set up but never accepted: the listener's queue holds it until disposal.
        await using var client = await transport.ConnectAsync(address, CancellationToken.None).DefaultTimeout();

        await listener.DisposeAsync().AsTask().WaitAsync(Prompt);

        Assert.Null(await listener.AcceptAsync().DefaultTimeout());
        Assert.False(File.Exists(transport.GetRendezvousPath(address)));
        Assert.False(File.Exists(transport.GetRendezvousPath(address) + ".lock"));
        // The queued server side was disposed, which the client sees as the end of its input.
        Assert.True(await InputEndsAsync(client).WaitAsync(Prompt));
        // The silent client's socket was closed by the server.
        Assert.Equal(0, await silent.ReceiveAsync(new byte[1], SocketFlags.None).DefaultTimeout());
    }

    /// <summary>Whether the input ends, cleanly or with an error; a pipe already failed throws from ReadAsync itself.</summary>
    private static async Task<bool> InputEndsAsync(ITransportConnection connection)
    {
        try
        {
            return (await connection.Transport.Input.ReadAsync()).IsCompleted;
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static HashSet<string> SegmentFiles() =>
        Directory.Exists("/dev/shm") ? [.. Directory.GetFiles("/dev/shm", "rpc-*")] : [];
}
