using System.Buffers;
using Microsoft.Win32.SafeHandles;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Rpc.Transports.SharedMemory;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>
/// A peer that lies about its mapped regions closes only its own connection, with a reason, and
/// never makes this side map, read or hold what it should not.
/// </summary>
public sealed class MappedPayloadHostileTests
{
    private const int RegionSize = 256 * 1024;

    [Fact]
    public async Task HonestReference_RawPeer_MessageArrivesFromTheRegion()
    {
        var (peer, client) = await StartAsync();
        await using var _ = peer;
        var content = MappedPayloadTests.RandomBytes(100_000, seed: 1);
        client.Inject(SealedRegion(RegionSize, content));

        await StartCallAsync(peer);
        await peer.SendAsync(w => FrameWriter.WriteMessageReference(w, 1, regionId: 1, content.Length, RegionSize, FrameFlags.None));

        var stream = await peer.Calls.NextAsync();
        var message = await stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
        Assert.Equal(content, message!.Value.Payload.ToArray());
        message.Value.Release();
        var release = await peer.ReadUntilAsync(FrameType.RegionRelease);
        Assert.Equal(1u, PayloadCodec.ReadRegionId(new ReadOnlySequence<byte>(release!.Value.Payload), FrameType.RegionRelease));
    }

    [Fact]
    public async Task ReferenceToRegionNeverAnnounced_ClosesConnectionWithReason()
    {
        var (peer, _) = await StartAsync();
        await using var __ = peer;
        await StartCallAsync(peer);
        await peer.SendAsync(w => FrameWriter.WriteMessageReference(w, 1, regionId: 7, 10, announcedSize: 0, FrameFlags.None));

        await AssertClosedAsync(peer, "never announced");
    }

    [Fact]
    public async Task AnnouncementWithoutDescriptor_ClosesConnectionWithReason()
    {
        var (peer, _) = await StartAsync();
        await using var __ = peer;
        await StartCallAsync(peer);
        await peer.SendAsync(w => FrameWriter.WriteMessageReference(w, 1, regionId: 1, 10, RegionSize, FrameFlags.None));

        await AssertClosedAsync(peer, "no descriptor");
    }

    [Fact]
    public async Task UnsealedFile_ClosesConnectionWithReason()
    {
        var (peer, client) = await StartAsync();
        await using var __ = peer;
        var path = Path.GetTempFileName();
        try
        {
            var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            RandomAccess.SetLength(file, RegionSize);
            client.Inject(file);
            await StartCallAsync(peer);
            await peer.SendAsync(w => FrameWriter.WriteMessageReference(w, 1, regionId: 1, 10, RegionSize, FrameFlags.None));

            // A file that can shrink under the mapping would fault this process; it is never mapped.
            await AssertClosedAsync(peer, "Region 1's descriptor");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task RegionSmallerThanClaimed_ClosesConnectionWithReason()
    {
        var (peer, client) = await StartAsync();
        await using var __ = peer;
        client.Inject(SealedRegion(4096, []));
        await StartCallAsync(peer);
        await peer.SendAsync(w => FrameWriter.WriteMessageReference(w, 1, regionId: 1, 10, RegionSize, FrameFlags.None));

        await AssertClosedAsync(peer, $"not a regular file of {RegionSize} bytes");
    }

    [Fact]
    public async Task MessageLongerThanItsRegion_ClosesConnectionWithReason()
    {
        var (peer, client) = await StartAsync();
        await using var __ = peer;
        client.Inject(SealedRegion(RegionSize, []));
        await StartCallAsync(peer);
        await peer.SendAsync(w => FrameWriter.WriteMessageReference(w, 1, regionId: 1, RegionSize + 1, RegionSize, FrameFlags.None));

        await AssertClosedAsync(peer, "does not fit region 1");
    }

    [Fact]
    public async Task RegionReusedBeforeRelease_ClosesConnectionWithReason()
    {
        var (peer, client) = await StartAsync();
        await using var __ = peer;
        client.Inject(SealedRegion(RegionSize, []));
        await StartCallAsync(peer);
        await peer.SendAsync(w => FrameWriter.WriteMessageReference(w, 1, regionId: 1, 10, RegionSize, FrameFlags.None));
        await peer.SendAsync(w => FrameWriter.WriteMessageReference(w, 1, regionId: 1, 10, announcedSize: 0, FrameFlags.None));

        await AssertClosedAsync(peer, "before this side released it");
    }

    [Fact]
    public async Task RegionsBeyondTheLimit_ClosesConnectionWithReason()
    {
        var (peer, client) = await StartAsync(new ConnectionOptions { MappedPayloadLimit = RegionSize });
        await using var __ = peer;
        client.Inject(SealedRegion(2 * RegionSize, []));
        await StartCallAsync(peer);
        await peer.SendAsync(w => FrameWriter.WriteMessageReference(w, 1, regionId: 1, 10, 2 * RegionSize, FrameFlags.None));

        await AssertClosedAsync(peer, $"at most {RegionSize} bytes");
    }

    [Fact]
    public async Task MoreRegionsThanAPeerMayHave_ClosesConnectionWithReason()
    {
        var (peer, client) = await StartAsync();
        await using var __ = peer;
        await StartCallAsync(peer);
        for (var id = 1u; id <= 17; id++)
        {
            client.Inject(SealedRegion(4096, []));
            var regionId = id;
            await peer.SendAsync(w => FrameWriter.WriteMessageReference(w, 1, regionId, 10, 4096, FrameFlags.None));
        }

        await AssertClosedAsync(peer, "a peer has at most 16");
    }

    [Fact]
    public async Task ReleaseOfRegionNeverSent_ClosesConnectionWithReason()
    {
        var (peer, _) = await StartAsync(clientSettings: new ConnectionSettings { MappedPayloadLimit = 1024 * 1024 });
        await using var __ = peer;
        await peer.SendAsync(w => FrameWriter.WriteRegionControl(w, FrameType.RegionRelease, 3));

        await AssertClosedAsync(peer, "holds no message");
    }

    [Fact]
    public async Task ReferenceOnConnectionThatMapsNothing_ClosesConnectionWithReason()
    {
        var (peer, _) = await StartAsync(new ConnectionOptions { MappedPayloadLimit = 0 });
        await using var __ = peer;
        await StartCallAsync(peer);
        await peer.SendAsync(w => FrameWriter.WriteMessageReference(w, 1, regionId: 1, 10, RegionSize, FrameFlags.None));

        await AssertClosedAsync(peer, "maps no regions");
    }

    private static async Task<(RawProtocolPeer Peer, DescriptorPassingConnection Client)> StartAsync(ConnectionOptions? options = null, ConnectionSettings? clientSettings = null)
    {
        var (client, server) = DescriptorPassingConnection.CreatePair();
        var peer = await RawProtocolPeer.StartAsync(client, server, options ?? new ConnectionOptions(), clientSettings);
        return (peer, client);
    }

    private static Task StartCallAsync(RawProtocolPeer peer) =>
        peer.SendAsync(w => FrameWriter.WriteCallStart(w, 1, "/s/m", CallStart.NoTimeout, headers: null));

    private static async Task AssertClosedAsync(RawProtocolPeer peer, string reason)
    {
        var goAway = await peer.ReadUntilAsync(FrameType.GoAway);
        Assert.NotNull(goAway);
        var status = PayloadCodec.ReadGoAway(new ReadOnlySequence<byte>(goAway.Value.Payload)).Status;
        Assert.Contains(reason, status.Detail, StringComparison.Ordinal);
        await peer.Server.Closed.DefaultTimeout();
    }

    private static SafeFileHandle SealedRegion(int size, byte[] content)
    {
        var region = new SafeFileHandle(ShmNative.CreateSealedMemory("test-region", size), ownsHandle: true);
        RandomAccess.Write(region, content, 0);
        return region;
    }
}
