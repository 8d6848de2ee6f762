using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Internal;
using Rpc.Transports.Sockets;
using Rpc.Transports.Tcp;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>
/// Socket connections send without the runtime's socket engine (<see cref="SocketSends"/>): a send
/// on a full buffer waits on <see cref="WritableWaiter"/>. These pin down the wait's every end, and
/// that a socket whose buffer once filled never joins the runtime's epoll set, which is what made
/// every later message wake the runtime's socket thread and the pool.
/// </summary>
public sealed partial class SocketSendTests
{
    [Fact]
    public async Task FullBuffer_SendRefused_WaitEndsWhenThePeerReads_AgainOnceRearmed_AndOnShutdown()
    {
        if (!SocketSends.IsSupported)
        {
            return; // Elsewhere sends go through the runtime's engine.
        }

        var (sender, receiver) = await ConnectAsync();
        using (sender)
        using (receiver)
        using (var waiter = new WritableWaiter(sender.SafeHandle))
        {
            FillUntilFull(sender);
            Assert.Equal(-1, SocketSends.Send(sender.SafeHandle, [1]));
            var writable = waiter.WaitAsync();
            await Task.Delay(50);
            Assert.False(writable.IsCompleted, "The wait ended while the buffer was still full.");

            Drain(receiver);
            await writable.DefaultTimeout();
            Assert.Equal(1, SocketSends.Send(sender.SafeHandle, [1]));

            // A second wait on the same socket re-arms its one-shot registration.
            FillUntilFull(sender);
            var again = waiter.WaitAsync();
            Drain(receiver);
            await again.DefaultTimeout();

            FillUntilFull(sender);
            var shutDown = waiter.WaitAsync();
            sender.Shutdown(SocketShutdown.Both);
            await shutDown.DefaultTimeout();
            Assert.Throws<IOException>(() => SocketSends.Send(sender.SafeHandle, [1]));
        }
    }

    [Fact]
    public async Task Dispose_EndsAPendingWait()
    {
        if (!SocketSends.IsSupported)
        {
            return; // Elsewhere sends go through the runtime's engine.
        }

        var (sender, receiver) = await ConnectAsync();
        using (sender)
        using (receiver)
        {
            var waiter = new WritableWaiter(sender.SafeHandle);
            FillUntilFull(sender);
            var waiting = waiter.WaitAsync();
            waiter.Dispose();
            await waiting.DefaultTimeout();
            // A wait that starts after the dispose ends at once too.
            await waiter.WaitAsync().DefaultTimeout();
        }
    }

    [Fact]
    public async Task ConnectionWhoseBufferFilled_CarriesEveryByte_AndItsSocketNeverJoinsTheRuntimesEpollSet()
    {
        if (!SocketSends.IsSupported)
        {
            return; // Elsewhere sends go through the runtime's engine.
        }

        var (sender, receiver) = await ConnectAsync();
        using (receiver)
        {
            var connection = new SocketConnection(sender, "test", 1 << 20);
            try
            {
                var payload = new byte[4 * 1024 * 1024];
                Random.Shared.NextBytes(payload);
                // Written before anything is read, so the socket's buffer fills and the send waits.
                await connection.Transport.Output.WriteAsync(payload);
                var received = await Task.Run(() => ReceiveExactly(receiver, payload.Length)).DefaultTimeout();
                Assert.True(payload.AsSpan().SequenceEqual(received), "The bytes arrived changed.");

                var descriptor = (int)sender.SafeHandle.DangerousGetHandle();
                Assert.NotNull(WritableWaiter.EpollDescriptor);
                Assert.DoesNotContain(EpollSetsHolding(descriptor), set => set != WritableWaiter.EpollDescriptor);

                // The check sees what it looks for: a pending Socket.SendAsync puts its socket in the
                // runtime's set.
                var (control, controlPeer) = await ConnectAsync();
                using (control)
                using (controlPeer)
                {
                    FillUntilFull(control);
                    var pending = control.SendAsync(new byte[64 * 1024], SocketFlags.None);
                    Assert.Contains(EpollSetsHolding((int)control.SafeHandle.DangerousGetHandle()), set => set != WritableWaiter.EpollDescriptor);
                    Drain(controlPeer);
                    await pending.DefaultTimeout();
                }
            }
            finally
            {
                await connection.DisposeAsync().AsTask().DefaultTimeout();
            }
        }
    }

    [Fact]
    public async Task TcpConnection_BothEnds_NeverJoinTheRuntimesEpollSet()
    {
        if (!SocketSends.IsSupported)
        {
            return;
        }

        // A Socket.ConnectAsync that waits puts its socket in the runtime's set; ours connects without it.
        var transport = new TcpTransport(new TcpTransportOptions());
        await using var listener = await transport.BindAsync(TransportAddress.Parse("tcp://127.0.0.1:0"), new ListenOptions(), CancellationToken.None);
        var accepting = listener.AcceptAsync().AsTask();
        await using var client = await transport.ConnectAsync(listener.Address, CancellationToken.None);
        await using var server = await accepting.DefaultTimeout() ?? throw new InvalidOperationException("The listener closed.");

        await client.Transport.Output.WriteAsync(new byte[] { 1 });
        var read = await server.Transport.Input.ReadAsync().AsTask().DefaultTimeout();
        server.Transport.Input.AdvanceTo(read.Buffer.End);

        foreach (var connection in new[] { client, server })
        {
            var descriptor = (int)((SocketConnection)connection).Socket.SafeHandle.DangerousGetHandle();
            Assert.DoesNotContain(EpollSetsHolding(descriptor), set => set != WritableWaiter.EpollDescriptor);
        }
    }

    [Fact]
    public async Task TcpConnect_NobodyListening_FailsRefused()
    {
        // A port just bound and closed again: nothing listens there now.
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
            port = ((System.Net.IPEndPoint)probe.LocalEndPoint!).Port;
        }

        var transport = new TcpTransport(new TcpTransportOptions());
        var error = await Assert.ThrowsAsync<ConnectionFailedException>(() => transport.ConnectAsync(TransportAddress.Parse($"tcp://127.0.0.1:{port}"), CancellationToken.None).AsTask().DefaultTimeout());
        Assert.Contains("ConnectionRefused", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A connected pair of Unix sockets; the socket file is gone again once they are connected.</summary>
    private static async Task<(Socket Sender, Socket Receiver)> ConnectAsync()
    {
        var path = TestPaths.NewSocketPath();
        try
        {
            using var listening = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listening.Bind(new UnixDomainSocketEndPoint(path));
            listening.Listen(1);
            var sender = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await sender.ConnectAsync(new UnixDomainSocketEndPoint(path)).DefaultTimeout();
            var receiver = await listening.AcceptAsync().DefaultTimeout();
            return (sender, receiver);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void FillUntilFull(Socket sender)
    {
        var chunk = new byte[64 * 1024];
        // Bounded: a unix socket's buffer is a few hundred KiB; 1 GiB would mean it never fills.
        for (var sent = 0L; sent < 1L << 30;)
        {
            var now = SocketSends.Send(sender.SafeHandle, chunk);
            if (now < 0)
            {
                return;
            }

            sent += now;
        }

        Assert.Fail("The socket's buffer never filled.");
    }

    private static void Drain(Socket receiver)
    {
        var buffer = new byte[256 * 1024];
        while (receiver.Available > 0)
        {
            _ = receiver.Receive(buffer);
        }
    }

    private static byte[] ReceiveExactly(Socket receiver, int length)
    {
        var received = new byte[length];
        for (var at = 0; at < length;)
        {
            var now = receiver.Receive(received.AsSpan(at));
            Assert.NotEqual(0, now);
            at += now;
        }

        return received;
    }

    /// <summary>The epoll descriptors of this process whose set holds <paramref name="descriptor"/>, from /proc.</summary>
    private static List<int> EpollSetsHolding(int descriptor)
    {
        var sets = new List<int>();
        foreach (var entry in Directory.GetFiles("/proc/self/fd"))
        {
            var number = int.Parse(Path.GetFileName(entry), System.Globalization.CultureInfo.InvariantCulture);
            string? target;
            string info;
            try
            {
                target = new FileInfo(entry).LinkTarget;
                info = File.ReadAllText($"/proc/self/fdinfo/{number}");
            }
            catch (IOException)
            {
                continue; // Closed meanwhile.
            }

            if (target == "anon_inode:[eventpoll]" && TargetLine().Matches(info).Any(match => match.Groups[1].Value == descriptor.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            {
                sets.Add(number);
            }
        }

        return sets;
    }

    [GeneratedRegex(@"^tfd:\s+(\d+)", RegexOptions.Multiline)]
    private static partial Regex TargetLine();
}
