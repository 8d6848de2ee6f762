using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Internal;
using Rpc.Transports.SharedMemory;
using Rpc.Transports.Sockets;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>
/// Descriptor passing on real unix:// and shm:// connection pairs: how a mapped payload region's
/// memfd reaches the peer (issue 13). A descriptor must be there by the time the bytes written after
/// it are read, in order, with its content, and a peer that abuses the channel fails only its own
/// connection.
/// </summary>
public sealed class DescriptorChannelTests
{
    [Theory]
    [InlineData("unix")]
    [InlineData("shm")]
    public async Task SendDescriptor_MarkerWrittenAfter_ArrivesBeforeMarkerWithItsContent(string scheme)
    {
        await using var endpoint = await DescriptorEndpoint.BindAsync(scheme);
        var (client, server) = await endpoint.ConnectAsync();

        Channel(client).SendDescriptor(DescriptorEndpoint.NewRegion("region one"));
        await client.Transport.Output.WriteAsync(Marker(1)).DefaultTimeout();
        await DescriptorEndpoint.ReadThroughAsync(server.Transport.Input, Marker(1));

        Assert.True(Channel(server).TryReceiveDescriptor(out var received));
        using (received)
        {
            Assert.Equal("region one", DescriptorEndpoint.ReadRegion(received));
        }
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("shm")]
    public async Task SendDescriptor_Several_ArriveInOrder(string scheme)
    {
        await using var endpoint = await DescriptorEndpoint.BindAsync(scheme);
        var (client, server) = await endpoint.ConnectAsync();

        for (var i = 0; i < 5; i++)
        {
            Channel(client).SendDescriptor(DescriptorEndpoint.NewRegion($"region {i}"));
            await client.Transport.Output.WriteAsync(Marker(i)).DefaultTimeout();
        }

        await DescriptorEndpoint.ReadThroughAsync(server.Transport.Input, Marker(4));
        for (var i = 0; i < 5; i++)
        {
            Assert.True(Channel(server).TryReceiveDescriptor(out var received), $"descriptor {i} did not arrive");
            using (received)
            {
                Assert.Equal($"region {i}", DescriptorEndpoint.ReadRegion(received));
            }
        }

        Assert.False(Channel(server).TryReceiveDescriptor(out _));
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("shm")]
    public async Task SendDescriptor_BothDirections_EachSideReceivesThePeers(string scheme)
    {
        await using var endpoint = await DescriptorEndpoint.BindAsync(scheme);
        var (client, server) = await endpoint.ConnectAsync();

        Channel(server).SendDescriptor(DescriptorEndpoint.NewRegion("from the server"));
        await server.Transport.Output.WriteAsync(Marker(7)).DefaultTimeout();
        Channel(client).SendDescriptor(DescriptorEndpoint.NewRegion("from the client"));
        await client.Transport.Output.WriteAsync(Marker(8)).DefaultTimeout();

        await DescriptorEndpoint.ReadThroughAsync(client.Transport.Input, Marker(7));
        await DescriptorEndpoint.ReadThroughAsync(server.Transport.Input, Marker(8));
        Assert.True(Channel(client).TryReceiveDescriptor(out var atClient));
        Assert.True(Channel(server).TryReceiveDescriptor(out var atServer));
        using (atClient)
        using (atServer)
        {
            Assert.Equal("from the server", DescriptorEndpoint.ReadRegion(atClient));
            Assert.Equal("from the client", DescriptorEndpoint.ReadRegion(atServer));
        }
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("shm")]
    public async Task SendDescriptor_BehindMegabytesThePeerHasNotRead_ArrivesOnceItReads(string scheme)
    {
        await using var endpoint = await DescriptorEndpoint.BindAsync(scheme);
        var (client, server) = await endpoint.ConnectAsync();

        // More than the socket (or ring) and the peer's input pipe hold: the send loop is held up
        // by a full medium when the descriptor is queued, and sends it only as the peer reads.
        var chunk = new byte[64 * 1024];
        for (var i = 0; i < 64; i++)
        {
            await client.Transport.Output.WriteAsync(chunk).DefaultTimeout();
        }

        Channel(client).SendDescriptor(DescriptorEndpoint.NewRegion("behind the backlog"));
        await client.Transport.Output.WriteAsync(Marker(13)).DefaultTimeout();
        await DescriptorEndpoint.ReadThroughAsync(server.Transport.Input, Marker(13));

        Assert.True(Channel(server).TryReceiveDescriptor(out var received));
        using (received)
        {
            Assert.Equal("behind the backlog", DescriptorEndpoint.ReadRegion(received));
        }
    }

    [Fact]
    public async Task SendOnFullSocket_RefusedThenSentOnceThePeerReads_AndTheWaitEndsOnShutdown()
    {
        // The send loop's rare path, driven directly: a unix socket whose buffer is full refuses the
        // descriptor's byte, the wait ends once the peer reads, and a shutdown ends it too.
        var path = TestPaths.NewSocketPath();
        using var listening = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listening.Bind(new UnixDomainSocketEndPoint(path));
        listening.Listen(1);
        try
        {
            using var sender = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await sender.ConnectAsync(new UnixDomainSocketEndPoint(path)).DefaultTimeout();
            using var receiver = await listening.AcceptAsync().DefaultTimeout();
            sender.Blocking = false;
            FillUntilFull(sender);

            using var region = DescriptorEndpoint.NewRegion("after the wait");
            int[] descriptors = [(int)region.DangerousGetHandle()];
            Assert.Equal(-1, DescriptorPassing.Send(sender.SafeHandle, [42], descriptors));

            using var waiter = new WritableWaiter(sender.SafeHandle);
            var writable = waiter.WaitAsync();
            var drained = Task.Run(() => DrainUntilDescriptor(receiver));
            await writable.DefaultTimeout();
            Assert.Equal(1, DescriptorPassing.Send(sender.SafeHandle, [42], descriptors));
            using (var received = await drained.DefaultTimeout())
            {
                Assert.Equal("after the wait", DescriptorEndpoint.ReadRegion(received));
            }

            FillUntilFull(sender);
            var waiting = waiter.WaitAsync();
            sender.Shutdown(SocketShutdown.Both);
            await waiting.DefaultTimeout();
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void FillUntilFull(Socket sender)
    {
        var chunk = new byte[64 * 1024];
        try
        {
            // Bounded: a unix socket's buffer is a few hundred KiB; 1 GiB would mean it never fills.
            for (var sent = 0L; sent < 1L << 30; sent += sender.Send(chunk))
            {
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
        {
            return;
        }

        Assert.Fail("The socket's buffer never filled.");
    }

    private static SafeFileHandle DrainUntilDescriptor(Socket receiver)
    {
        var buffer = new byte[256 * 1024];
        Span<int> passed = stackalloc int[1];
        using var deadline = new CancellationTokenSource(Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        while (!deadline.IsCancellationRequested)
        {
            if (!receiver.Poll(TimeSpan.FromMilliseconds(100), SelectMode.SelectRead))
            {
                continue;
            }

            var received = DescriptorPassing.Receive(receiver.SafeHandle, buffer, passed, out var count);
            Assert.NotEqual(0, received);
            if (count == 1)
            {
                return new SafeFileHandle(passed[0], ownsHandle: true);
            }
        }

        throw new TimeoutException("The descriptor never arrived.");
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("shm")]
    public async Task TryReceiveDescriptor_NoneSent_ReturnsFalseWithoutBlocking(string scheme)
    {
        await using var endpoint = await DescriptorEndpoint.BindAsync(scheme);
        var (client, server) = await endpoint.ConnectAsync();

        // Bytes without any descriptor: the reader finds nothing, at once, on its own thread.
        await client.Transport.Output.WriteAsync(Marker(3)).DefaultTimeout();
        await DescriptorEndpoint.ReadThroughAsync(server.Transport.Input, Marker(3));
        var taken = await Task.Run(() => Channel(server).TryReceiveDescriptor(out _)).DefaultTimeout();

        Assert.False(taken);
        Assert.False(Channel(client).TryReceiveDescriptor(out _));
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("shm")]
    public async Task SendDescriptor_PeerFloodsDescriptors_FailsOnlyThatConnection(string scheme)
    {
        await using var endpoint = await DescriptorEndpoint.BindAsync(scheme);
        var (flooder, victim) = await endpoint.ConnectAsync();
        var (client, server) = await endpoint.ConnectAsync();

        for (var i = 0; i < 40; i++)
        {
            Channel(flooder).SendDescriptor(DescriptorEndpoint.NewRegion($"flood {i}"));
        }

        await flooder.Transport.Output.WriteAsync(Marker(9)).DefaultTimeout();
        if (scheme == "shm")
        {
            // The descriptors wait on the control socket; the first one taken finds the pile.
            await DescriptorEndpoint.ReadThroughAsync(victim.Transport.Input, Marker(9));
            Assert.Throws<IOException>(() => Channel(victim).TryReceiveDescriptor(out _));
        }

        // The flooded side's input ends, whichever way the flood was seen; on unix the receive loop saw it.
        var ended = await DescriptorEndpoint.ReadToEndAsync(victim.Transport.Input);
        if (scheme == "unix")
        {
            Assert.IsType<IOException>(ended);
            Assert.Contains("descriptors", ended.Message, StringComparison.Ordinal);
        }

        // The other connection of the same listener is untouched.
        await AssertCarriesAsync(client, server, "still fine");
    }

    [Fact]
    public async Task Receive_PeerAttachesSeventeenToOneByte_FailsOnlyThatConnection()
    {
        await using var endpoint = await DescriptorEndpoint.BindAsync("unix");
        var (client, server) = await endpoint.ConnectAsync();
        using var hostile = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var accepting = endpoint.AcceptAsync();
        await hostile.ConnectAsync(new UnixDomainSocketEndPoint(endpoint.Address.Target)).DefaultTimeout();
        var victim = await accepting;

        var regions = Enumerable.Range(0, 17).Select(i => DescriptorEndpoint.NewRegion($"one of many {i}")).ToArray();
        try
        {
            Assert.Equal(1, DescriptorPassing.Send(hostile.SafeHandle, [1], regions.Select(r => (int)r.DangerousGetHandle()).ToArray()));
        }
        finally
        {
            foreach (var region in regions)
            {
                region.Dispose();
            }
        }

        var ended = await DescriptorEndpoint.ReadToEndAsync(victim.Transport.Input);
        Assert.IsType<IOException>(ended);
        Assert.False(Channel(victim).TryReceiveDescriptor(out _));
        await AssertCarriesAsync(client, server, "after the hostile one");
    }

    [Fact]
    public async Task TryReceiveDescriptor_ShmPeerSendsAByteWithoutDescriptor_FailsOnlyThatConnection()
    {
        await using var endpoint = await DescriptorEndpoint.BindAsync("shm");
        var (hostile, victim) = await endpoint.ConnectAsync();
        var (client, server) = await endpoint.ConnectAsync();

        ((SharedMemoryConnection)hostile).Control.Send("D"u8);
        await hostile.Transport.Output.WriteAsync(Marker(11)).DefaultTimeout();
        await DescriptorEndpoint.ReadThroughAsync(victim.Transport.Input, Marker(11));

        Assert.Throws<IOException>(() => Channel(victim).TryReceiveDescriptor(out _));
        await DescriptorEndpoint.ReadToEndAsync(victim.Transport.Input);
        await AssertCarriesAsync(client, server, "beside the hostile one");
    }

    [Fact]
    public async Task TryReceiveDescriptor_ShmPeerSendsTwoWithOneByte_FailsOnlyThatConnection()
    {
        await using var endpoint = await DescriptorEndpoint.BindAsync("shm");
        var (hostile, victim) = await endpoint.ConnectAsync();
        var (client, server) = await endpoint.ConnectAsync();

        using (var first = DescriptorEndpoint.NewRegion("first"))
        using (var second = DescriptorEndpoint.NewRegion("second"))
        {
            var control = ((SharedMemoryConnection)hostile).Control.SafeHandle;
            Assert.Equal(1, DescriptorPassing.Send(control, "D"u8, [(int)first.DangerousGetHandle(), (int)second.DangerousGetHandle()]));
        }

        await hostile.Transport.Output.WriteAsync(Marker(12)).DefaultTimeout();
        await DescriptorEndpoint.ReadThroughAsync(victim.Transport.Input, Marker(12));

        Assert.Throws<IOException>(() => Channel(victim).TryReceiveDescriptor(out _));
        await DescriptorEndpoint.ReadToEndAsync(victim.Transport.Input);
        await AssertCarriesAsync(client, server, "beside the hostile one");
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("shm")]
    public async Task SendDescriptor_AfterTheConnectionEnded_ThrowsIOExceptionAndClosesIt(string scheme)
    {
        await using var endpoint = await DescriptorEndpoint.BindAsync(scheme);
        var (client, _) = await endpoint.ConnectAsync();
        await client.DisposeAsync().AsTask().DefaultTimeout();
        var region = DescriptorEndpoint.NewRegion("too late");

        Assert.Throws<IOException>(() => Channel(client).SendDescriptor(region));
        Assert.True(region.IsClosed);
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("shm")]
    public async Task MappedPayloadThreshold_SetOnTheOptions_IsWhatBothEndsAnnounce(string scheme)
    {
        await using var endpoint = await DescriptorEndpoint.BindAsync(scheme, threshold: 65536);
        var (client, server) = await endpoint.ConnectAsync();

        Assert.Equal(65536, Channel(client).MappedPayloadThreshold);
        Assert.Equal(65536, Channel(server).MappedPayloadThreshold);
    }

    [Fact]
    public async Task TcpConnection_IsNotADescriptorChannel()
    {
        var transport = new Rpc.Transports.Tcp.TcpTransport(new Rpc.Transports.Tcp.TcpTransportOptions());
        await using var listener = await transport.BindAsync(TransportAddress.Parse("tcp://127.0.0.1:0"), new ListenOptions(), CancellationToken.None).DefaultTimeout();
        var accepting = listener.AcceptAsync().AsTask();
        await using var client = await transport.ConnectAsync(listener.Address, CancellationToken.None).DefaultTimeout();
        await using var server = (await accepting.DefaultTimeout())!;

        Assert.False(client is IDescriptorChannel);
        Assert.False(server is IDescriptorChannel);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(4095)]
    [InlineData(int.MinValue)]
    public void MappedPayloadThreshold_BelowOnePage_IsRefusedNamingTheOption(int value)
    {
        var unix = Assert.Throws<ArgumentOutOfRangeException>(() => new UnixSocketTransportOptions { MappedPayloadThreshold = value });
        var shm = Assert.Throws<ArgumentOutOfRangeException>(() => new SharedMemoryTransportOptions { MappedPayloadThreshold = value });

        Assert.Equal("UnixSocketTransportOptions.MappedPayloadThreshold", unix.ParamName);
        Assert.Equal("SharedMemoryTransportOptions.MappedPayloadThreshold", shm.ParamName);
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(1024 * 1024)]
    [InlineData(int.MaxValue)]
    public void MappedPayloadThreshold_OnePageOrMore_IsKept(int value)
    {
        Assert.Equal(value, new UnixSocketTransportOptions { MappedPayloadThreshold = value }.MappedPayloadThreshold);
        Assert.Equal(value, new SharedMemoryTransportOptions { MappedPayloadThreshold = value }.MappedPayloadThreshold);
    }

    [Fact]
    public void MappedPayloadThreshold_Default_Is128KiB()
    {
        Assert.Equal(131072, new UnixSocketTransportOptions().MappedPayloadThreshold);
        Assert.Equal(131072, new SharedMemoryTransportOptions().MappedPayloadThreshold);
    }

    /// <summary>A descriptor and a marker from <paramref name="client"/> reach <paramref name="server"/>.</summary>
    private static async Task AssertCarriesAsync(ITransportConnection client, ITransportConnection server, string content)
    {
        Channel(client).SendDescriptor(DescriptorEndpoint.NewRegion(content));
        await client.Transport.Output.WriteAsync(Marker(99)).DefaultTimeout();
        await DescriptorEndpoint.ReadThroughAsync(server.Transport.Input, Marker(99));
        Assert.True(Channel(server).TryReceiveDescriptor(out var received));
        using (received)
        {
            Assert.Equal(content, DescriptorEndpoint.ReadRegion(received));
        }
    }

    private static IDescriptorChannel Channel(ITransportConnection connection) =>
        Assert.IsAssignableFrom<IDescriptorChannel>(connection);

    private static byte[] Marker(int number) => Encoding.ASCII.GetBytes($"<marker {number:D3}>");
}

/// <summary>
/// Descriptor passing where the whole process is looked at: open descriptors counted, and every
/// receive thread taken so that connections receive asynchronously. Runs alone for both reasons.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class DescriptorChannelProcessTests
{
    [Theory]
    [InlineData("unix")]
    [InlineData("shm")]
    public async Task Descriptors_SentTakenAndLeftBehind_NoneLeakAfterDispose(string scheme)
    {
        // Once first, so that what the runtime opens for good (socket engine, event fds) is counted before.
        await SendTakeAndLeaveAsync(scheme);
        var before = OpenDescriptors();

        for (var round = 0; round < 3; round++)
        {
            await SendTakeAndLeaveAsync(scheme);
        }

        Assert.Equal(before, OpenDescriptors());
    }

    [Fact]
    public async Task SendDescriptor_ConnectionsReceiveAsynchronously_ArrivesBeforeMarker()
    {
        var reserved = 0;
        try
        {
            while (ReceiveThreads.TryReserve())
            {
                reserved++;
            }

            await using var endpoint = await DescriptorEndpoint.BindAsync("unix");
            var (client, server) = await endpoint.ConnectAsync();
            for (var i = 0; i < 3; i++)
            {
                ((IDescriptorChannel)client).SendDescriptor(DescriptorEndpoint.NewRegion($"async {i}"));
                await client.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes($"<async {i}>")).DefaultTimeout();
                await DescriptorEndpoint.ReadThroughAsync(server.Transport.Input, Encoding.ASCII.GetBytes($"<async {i}>"));

                Assert.True(((IDescriptorChannel)server).TryReceiveDescriptor(out var received));
                using (received)
                {
                    Assert.Equal($"async {i}", DescriptorEndpoint.ReadRegion(received));
                }
            }
        }
        finally
        {
            for (var i = 0; i < reserved; i++)
            {
                ReceiveThreads.Release();
            }
        }
    }

    /// <summary>Sends five descriptors each way, takes two, and leaves three received and two never sent.</summary>
    private static async Task SendTakeAndLeaveAsync(string scheme)
    {
        await using var endpoint = await DescriptorEndpoint.BindAsync(scheme);
        var (client, server) = await endpoint.ConnectAsync();
        var marker = Encoding.ASCII.GetBytes("<leak marker>");
        for (var i = 0; i < 5; i++)
        {
            ((IDescriptorChannel)client).SendDescriptor(DescriptorEndpoint.NewRegion($"leak {i}"));
        }

        await client.Transport.Output.WriteAsync(marker).DefaultTimeout();
        await DescriptorEndpoint.ReadThroughAsync(server.Transport.Input, marker);
        for (var i = 0; i < 2; i++)
        {
            Assert.True(((IDescriptorChannel)server).TryReceiveDescriptor(out var taken));
            taken.Dispose();
        }

        // Queued with no byte after them to carry them (on unix), or sitting in the control socket (on shm).
        ((IDescriptorChannel)server).SendDescriptor(DescriptorEndpoint.NewRegion("unsent 1"));
        ((IDescriptorChannel)server).SendDescriptor(DescriptorEndpoint.NewRegion("unsent 2"));
    }

    private static int OpenDescriptors()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return Directory.GetFiles("/proc/self/fd").Length;
    }
}

/// <summary>A listener of one scheme and the connection pairs made on it, all disposed with it.</summary>
internal sealed class DescriptorEndpoint : IAsyncDisposable
{
    private readonly ITransport _transport;
    private readonly ITransportListener _listener;
    private readonly List<ITransportConnection> _connections = [];

    private DescriptorEndpoint(ITransport transport, ITransportListener listener)
    {
        _transport = transport;
        _listener = listener;
    }

    public static async Task<DescriptorEndpoint> BindAsync(string scheme, int threshold = 131072)
    {
        ITransport transport;
        TransportAddress address;
        if (scheme == "unix")
        {
            transport = new UnixSocketTransport(new UnixSocketTransportOptions { MappedPayloadThreshold = threshold });
            address = TransportAddress.Parse("unix://" + TestPaths.NewSocketPath());
        }
        else
        {
            transport = new SharedMemoryTransport(new SharedMemoryTransportOptions { MappedPayloadThreshold = threshold });
            address = TransportAddress.Parse($"shm://rpct-{Guid.NewGuid():N}");
        }

        var listener = await transport.BindAsync(address, new ListenOptions(), CancellationToken.None).DefaultTimeout();
        return new DescriptorEndpoint(transport, listener);
    }

    /// <summary>The address the listener is bound to.</summary>
    public TransportAddress Address => _listener.Address;

    /// <summary>The server's end of the next connection; disposed with the endpoint.</summary>
    public async Task<ITransportConnection> AcceptAsync()
    {
        var server = await _listener.AcceptAsync().AsTask().DefaultTimeout() ?? throw new InvalidOperationException("The listener closed.");
        _connections.Add(server);
        return server;
    }

    /// <summary>A new client connection and the server's end of it.</summary>
    public async Task<(ITransportConnection Client, ITransportConnection Server)> ConnectAsync()
    {
        var accepting = _listener.AcceptAsync().AsTask();
        var client = await _transport.ConnectAsync(_listener.Address, CancellationToken.None).DefaultTimeout();
        _connections.Add(client);
        var server = await accepting.DefaultTimeout() ?? throw new InvalidOperationException("The listener closed.");
        _connections.Add(server);
        return (client, server);
    }

    /// <summary>A sealed memfd holding <paramref name="content"/>, written with pwrite(2).</summary>
    public static SafeFileHandle NewRegion(string content)
    {
        var handle = new SafeFileHandle(ShmNative.CreateSealedMemory("rpct-region", 4096), ownsHandle: true);
        var bytes = Encoding.UTF8.GetBytes(content);
        RandomAccess.Write(handle, BitConverter.GetBytes(bytes.Length), 0);
        RandomAccess.Write(handle, bytes, sizeof(int));
        return handle;
    }

    /// <summary>What <see cref="NewRegion"/> wrote, read back through the received descriptor.</summary>
    public static string ReadRegion(SafeFileHandle handle)
    {
        var length = new byte[sizeof(int)];
        Assert.Equal(sizeof(int), RandomAccess.Read(handle, length, 0));
        var bytes = new byte[BitConverter.ToInt32(length)];
        Assert.Equal(bytes.Length, RandomAccess.Read(handle, bytes, sizeof(int)));
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Reads (bounded) until <paramref name="marker"/> has been read, consuming everything up to its end.</summary>
    public static async Task ReadThroughAsync(PipeReader input, byte[] marker)
    {
        using var deadline = new CancellationTokenSource(Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        while (true)
        {
            var result = await input.ReadAsync(deadline.Token);
            var reader = new SequenceReader<byte>(result.Buffer);
            if (reader.TryReadTo(out ReadOnlySequence<byte> _, marker, advancePastDelimiter: true))
            {
                input.AdvanceTo(reader.Position);
                return;
            }

            Assert.False(result.IsCompleted, "The input ended before the marker.");
            // Only a marker's head can span reads, so the rest is let go, as a frame parser lets go of
            // whole frames: a shared-memory input is the ring itself, which stops its producer
            // while full of bytes its reader keeps.
            var kept = Math.Min(result.Buffer.Length, marker.Length - 1);
            input.AdvanceTo(result.Buffer.GetPosition(result.Buffer.Length - kept), result.Buffer.End);
        }
    }

    /// <summary>Reads (bounded) until the input ends; the failure it ended with, if any.</summary>
    public static async Task<IOException?> ReadToEndAsync(PipeReader input)
    {
        using var deadline = new CancellationTokenSource(Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(deadline.Token);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return null;
                }
            }
        }
        catch (IOException ex)
        {
            return ex;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync().AsTask().DefaultTimeout();
        }

        await _listener.DisposeAsync().AsTask().DefaultTimeout();
    }
}
