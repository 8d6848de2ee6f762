using System.Buffers;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.SharedMemory;
using Rpc.Transports.Sockets;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>The receive spin of unix:// and shm://: bounded where it is set, and bytes cross whatever it is.</summary>
public sealed class SpinDurationTests
{
    public static TheoryData<long> RefusedMicroseconds => [-1, -1_000_000, 100_001, 10_000_000];

    public static TheoryData<long> KeptMicroseconds => [0, 1, 50, 100_000];

    [Theory]
    [MemberData(nameof(RefusedMicroseconds))]
    public void SpinDuration_NegativeOrOverAHundredMilliseconds_IsRefusedNamingTheOption(long microseconds)
    {
        var value = TimeSpan.FromMicroseconds(microseconds);

        var unix = Assert.Throws<ArgumentOutOfRangeException>(() => new UnixSocketTransportOptions { SpinDuration = value });
        var shm = Assert.Throws<ArgumentOutOfRangeException>(() => new SharedMemoryTransportOptions { SpinDuration = value });

        Assert.Equal("UnixSocketTransportOptions.SpinDuration", unix.ParamName);
        Assert.Equal("SharedMemoryTransportOptions.SpinDuration", shm.ParamName);
    }

    [Theory]
    [MemberData(nameof(KeptMicroseconds))]
    public void SpinDuration_FromZeroToAHundredMilliseconds_IsKept(long microseconds)
    {
        var value = TimeSpan.FromMicroseconds(microseconds);

        Assert.Equal(value, new UnixSocketTransportOptions { SpinDuration = value }.SpinDuration);
        Assert.Equal(value, new SharedMemoryTransportOptions { SpinDuration = value }.SpinDuration);
    }

    [Fact]
    public void SpinDuration_Default_FiftyMicroseconds()
    {
        Assert.Equal(TimeSpan.FromMicroseconds(50), new UnixSocketTransportOptions().SpinDuration);
        Assert.Equal(TimeSpan.FromMicroseconds(50), new SharedMemoryTransportOptions().SpinDuration);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(50)]
    [InlineData(5_000)]
    public async Task UnixConnection_AnySpin_BytesCrossBothWays(long microseconds)
    {
        var transport = new UnixSocketTransport(new UnixSocketTransportOptions { SpinDuration = TimeSpan.FromMicroseconds(microseconds) });
        var path = TestPaths.NewSocketPath();
        await using var listener = await transport.BindAsync(TransportAddress.Parse("unix://" + path), new ListenOptions(), CancellationToken.None).DefaultTimeout();
        var accepting = listener.AcceptAsync().AsTask();
        await using var client = await transport.ConnectAsync(listener.Address, CancellationToken.None).DefaultTimeout();
        await using var server = (await accepting.DefaultTimeout())!;

        for (var round = 0; round < 20; round++)
        {
            await SendAsync(client, (byte)round);
            Assert.Equal((byte)round, await ReceiveAsync(server));
            await SendAsync(server, (byte)(round + 100));
            Assert.Equal((byte)(round + 100), await ReceiveAsync(client));
        }
    }

    private static async Task SendAsync(ITransportConnection connection, byte value)
    {
        await connection.Transport.Output.WriteAsync(new[] { value }).DefaultTimeout();
    }

    private static async Task<byte> ReceiveAsync(ITransportConnection connection)
    {
        var result = await connection.Transport.Input.ReadAsync().AsTask().DefaultTimeout();
        var value = result.Buffer.FirstSpan[0];
        connection.Transport.Input.AdvanceTo(result.Buffer.GetPosition(1));
        return value;
    }
}
