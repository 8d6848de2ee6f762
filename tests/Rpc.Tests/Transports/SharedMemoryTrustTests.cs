using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Rpc.Tests.Infrastructure;
using Microsoft.Win32.SafeHandles;
using Rpc.Transports;
using Rpc.Transports.Internal;
using Rpc.Transports.SharedMemory;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>Who may meet whom over shared memory: the rendezvous directory, both sides' credential checks, the segment's owner.</summary>
public sealed class SharedMemoryTrustTests
{
    private static uint OwnUserId => LocalPeerPolicy.ServerUserId!.Value;

    [Fact]
    public void GetRendezvousPath_Default_IsInAPrivateDirectoryOfOurs()
    {
        var transport = new SharedMemoryTransport(new SharedMemoryTransportOptions());

        var path = transport.GetRendezvousPath(NewAddress());

        var directory = FileStatus.OfPath(Path.GetDirectoryName(path)!);
        Assert.True(directory?.IsDirectory);
        Assert.Equal(OwnUserId, directory?.UserId);
        Assert.Equal((UnixFileMode)0x1C0, directory?.Mode); // 0700
        Assert.DoesNotContain(Path.GetTempPath().TrimEnd('/') + "/shm-", path, StringComparison.Ordinal);
    }

    [Fact]
    public void GetRendezvousPath_WorldWritableDirectory_RefusedNamingIt()
    {
        var directory = Directory.CreateTempSubdirectory("rpct-ww-");
        try
        {
            File.SetUnixFileMode(directory.FullName, (UnixFileMode)0x1FF); // 0777: anyone could plant a socket
            var transport = new SharedMemoryTransport(new SharedMemoryTransportOptions { RendezvousDirectory = directory.FullName });

            var error = Assert.Throws<IOException>(() => transport.GetRendezvousPath(NewAddress()));

            Assert.Contains(directory.FullName, error.Message, StringComparison.Ordinal);
            Assert.Contains("mode 777", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void GetRendezvousPath_SymbolicLink_Refused()
    {
        var target = Directory.CreateTempSubdirectory("rpct-tg-");
        var link = Path.Combine(Path.GetTempPath(), $"rpct-ln-{Guid.NewGuid():N}");
        try
        {
            File.SetUnixFileMode(target.FullName, (UnixFileMode)0x1C0);
            File.CreateSymbolicLink(link, target.FullName);
            var transport = new SharedMemoryTransport(new SharedMemoryTransportOptions { RendezvousDirectory = link });

            var error = Assert.Throws<IOException>(() => transport.GetRendezvousPath(NewAddress()));

            Assert.Contains("symbolic link", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(link);
            target.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Connect_SameUser_BothSidesKnowTheirPeer()
    {
        var transport = new SharedMemoryTransport(new SharedMemoryTransportOptions());
        var address = NewAddress();
        await using var listener = await transport.BindAsync(address, new ListenOptions(), CancellationToken.None).DefaultTimeout();
        var accepting = listener.AcceptAsync().AsTask();
        await using var client = await transport.ConnectAsync(address, CancellationToken.None).DefaultTimeout();
        await using var server = (await accepting.DefaultTimeout())!;

        foreach (var identity in new[] { client.PeerIdentity, server.PeerIdentity })
        {
            Assert.NotNull(identity);
            Assert.Equal(Environment.ProcessId, identity.ProcessId);
            Assert.Equal(OwnUserId, identity.UserId);
            Assert.True(identity.IsLocal);
        }

        Assert.Contains($"pid={Environment.ProcessId}", server.Peer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_ListenerOfAnotherUser_RefusesToTrustIt()
    {
        var address = NewAddress();
        var serverTransport = new SharedMemoryTransport(new SharedMemoryTransportOptions());
        await using var listener = await serverTransport.BindAsync(address, new ListenOptions(), CancellationToken.None).DefaultTimeout();
        // This client believes it runs as another user, so the listener (really ours) is a stranger to it.
        var clientTransport = new SharedMemoryTransport(new SharedMemoryTransportOptions { UserIdOverride = OwnUserId + 1 });

        var error = await Assert.ThrowsAsync<ConnectionFailedException>(() => clientTransport.ConnectAsync(address, CancellationToken.None).DefaultTimeout());

        Assert.Contains("refusing to trust it", error.Message, StringComparison.Ordinal);
        Assert.Contains($"uid {OwnUserId}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Accept_ClientOfAnotherUser_RefusedWithReasonAndLogged()
    {
        var address = NewAddress();
        var log = new ListLogger();
        // The server believes it runs as another user, so this (real) client is not its own user.
        var serverTransport = new SharedMemoryTransport(new SharedMemoryTransportOptions { UserIdOverride = OwnUserId + 1 });
        await using var listener = await serverTransport.BindAsync(address, new ListenOptions { Logger = log }, CancellationToken.None).DefaultTimeout();
        var clientTransport = new SharedMemoryTransport(new SharedMemoryTransportOptions());

        var error = await Assert.ThrowsAsync<ConnectionFailedException>(() => clientTransport.ConnectAsync(address, CancellationToken.None).DefaultTimeout());

        Assert.Contains("refused the connection", error.Message, StringComparison.Ordinal);
        Assert.Contains($"user {OwnUserId}", error.Message, StringComparison.Ordinal);
        // The client hears why before the accept loop logs the refusal.
        await log.WaitForAsync($"pid={Environment.ProcessId}").DefaultTimeout();
        var entry = Assert.Single(log.Entries, e => e.Level == LogLevel.Warning);
        Assert.Contains($"user {OwnUserId}", entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Accept_ClientOfAllowedUser_Connects()
    {
        var address = NewAddress();
        var serverTransport = new SharedMemoryTransport(new SharedMemoryTransportOptions { UserIdOverride = OwnUserId + 1 });
        var options = new ListenOptions();
        options.AllowedUserIds.Add(OwnUserId);
        await using var listener = await serverTransport.BindAsync(address, options, CancellationToken.None).DefaultTimeout();
        var accepting = listener.AcceptAsync().AsTask();

        await using var client = await new SharedMemoryTransport(new SharedMemoryTransportOptions()).ConnectAsync(address, CancellationToken.None).DefaultTimeout();
        await using var server = (await accepting.DefaultTimeout())!;

        Assert.Equal(OwnUserId, server.PeerIdentity?.UserId);
    }

    [Theory]
    [InlineData(false, false, false, true)]
    [InlineData(true, false, false, false)]
    [InlineData(false, true, false, false)]
    [InlineData(false, false, true, false)]
    public void Refusal_StrangerUnlessAllowed(bool anyUser, bool byUid, bool byGid, bool refused)
    {
        var options = new ListenOptions { AllowAnyUser = anyUser };
        if (byUid)
        {
            options.AllowedUserIds.Add(2000);
        }

        if (byGid)
        {
            options.AllowedGroupIds.Add(3000);
        }

        var stranger = new PeerIdentity { ProcessId = 1, UserId = 2000, GroupId = 3000 };

        Assert.Equal(refused, LocalPeerPolicy.Check(options, stranger, serverUserId: 1000) is not null);
        Assert.Null(LocalPeerPolicy.Check(new ListenOptions(), stranger with { UserId = 1000 }, serverUserId: 1000));
    }

    [Fact]
    public void OpenSegment_OwnedBySomeoneElse_RefusedBeforeMapping()
    {
        using var segment = SharedSegment.Create("own-" + Guid.NewGuid().ToString("N")[..8], 4096);

        var error = Assert.Throws<IOException>(() => SharedSegment.Open(segment.Descriptor, 4096, owner: OwnUserId + 1));

        Assert.Contains("not ours to map", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OpenSegment_SizeNotAsAnnounced_Refused()
    {
        using var segment = SharedSegment.Create("size-" + Guid.NewGuid().ToString("N")[..8], 4096);

        var error = Assert.Throws<IOException>(() => SharedSegment.Open(segment.Descriptor, 8192, OwnUserId));

        Assert.Contains("announced", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateSegment_IsSealedAndPrivate()
    {
        using var segment = SharedSegment.Create("seal-" + Guid.NewGuid().ToString("N")[..8], 4096);

        using var handle = new SafeFileHandle(segment.Descriptor, ownsHandle: false);
        var status = FileStatus.OfHandle(handle);
        Assert.Equal((UnixFileMode)0x180, status.Mode); // 0600
        Assert.Equal(OwnUserId, status.UserId);
        var seals = ShmNative.GetSeals(segment.Descriptor);
        Assert.Equal(ShmNative.SealShrink | ShmNative.SealGrow | ShmNative.SealSeal, seals & (ShmNative.SealShrink | ShmNative.SealGrow | ShmNative.SealSeal));
    }

    private static TransportAddress NewAddress() => TransportAddress.Parse($"shm://rpct-{Guid.NewGuid():N}");
}
