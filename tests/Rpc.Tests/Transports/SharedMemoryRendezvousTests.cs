using System.Net.Sockets;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.SharedMemory;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>The rendezvous socket's path gets the unix listener's safety: a lock beside it, removal only of its own socket.</summary>
public sealed class SharedMemoryRendezvousTests
{
    private readonly SharedMemoryTransport _transport = new(new SharedMemoryTransportOptions());

    [Fact]
    public async Task DisposeAsync_RemovesRendezvousSocketAndLockFile()
    {
        var address = NewAddress();
        var path = _transport.GetRendezvousPath(address);
        var listener = await _transport.BindAsync(address, new ListenOptions(), CancellationToken.None).DefaultTimeout();
        try
        {
            Assert.True(File.Exists(path));
            Assert.True(File.Exists(path + ".lock"), "The rendezvous path is not claimed by a lock file.");
        }
        finally
        {
            await listener.DisposeAsync().DefaultTimeout();
        }

        Assert.False(File.Exists(path));
        Assert.False(File.Exists(path + ".lock"));
    }

    [Fact]
    public async Task DisposeAsync_RendezvousReplacedByAnother_LeavesTheReplacementAlone()
    {
        var address = NewAddress();
        var path = _transport.GetRendezvousPath(address);
        var listener = await _transport.BindAsync(address, new ListenOptions(), CancellationToken.None).DefaultTimeout();
        // Someone removed our socket and another server bound the path meanwhile.
        File.Delete(path);
        using var other = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        other.Bind(new UnixDomainSocketEndPoint(path));
        other.Listen();
        try
        {
            await listener.DisposeAsync().DefaultTimeout();

            Assert.True(File.Exists(path), "Disposing removed a rendezvous socket that was not its own.");
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".lock");
        }
    }

    [Fact]
    public async Task BindAsync_RendezvousLockHeldByAnother_AddressInUse()
    {
        var address = NewAddress();
        var path = _transport.GetRendezvousPath(address);
        try
        {
            // FileShare.None takes flock(LOCK_EX) on Unix: another server starting on this path holds it.
            using var claim = new FileStream(path + ".lock", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);

            await Assert.ThrowsAsync<AddressInUseException>(() => _transport.BindAsync(address, new ListenOptions(), CancellationToken.None).DefaultTimeout());

            Assert.False(File.Exists(path), "A listener bound a path another server had claimed.");
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".lock");
        }
    }

    private static TransportAddress NewAddress() => TransportAddress.Parse($"shm://rpct-{Guid.NewGuid():N}");
}
