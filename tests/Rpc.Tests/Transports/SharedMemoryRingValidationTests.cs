using Rpc.Tests.Infrastructure;
using Rpc.Transports.SharedMemory;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>
/// A hostile peer writes bogus positions into the shared ring. Ring 0 is used so that a copy that
/// overran its data area would land in ring 1, still mapped: the test sees the damage instead of
/// crashing the test host.
/// </summary>
public sealed class SharedMemoryRingValidationTests : IDisposable
{
    private const int Capacity = 4096;
    private readonly SharedSegment _segment;

    public SharedMemoryRingValidationTests()
    {
        _segment = SharedSegment.Create("val-" + Guid.NewGuid().ToString("N")[..8], Capacity);
    }

    public void Dispose() => _segment.Dispose();

    private unsafe void SetTail(long value) => *(long*)(_segment.GetRingPointer(0) + RingLayout.TailOffset) = value;

    private unsafe void SetHead(long value) => *(long*)(_segment.GetRingPointer(0) + RingLayout.HeadOffset) = value;

    private unsafe byte[] Ring1() => new ReadOnlySpan<byte>(_segment.GetRingPointer(1), (int)RingLayout.RingSize(Capacity)).ToArray();

    private unsafe void WakeProducer()
    {
        var signal = (int*)(_segment.GetRingPointer(0) + RingLayout.SpaceSignalOffset);
        Interlocked.Increment(ref *signal);
        Futex.WakeAll(signal);
    }

    [Theory]
    [InlineData(3 * Capacity)] // far ahead of what was written
    [InlineData(Capacity + 1)] // just more than a ring's worth
    public void Read_TailBeyondCapacity_FailsWithoutCopying(long tail)
    {
        var consumer = _segment.GetRing(0, TimeSpan.Zero);
        var ring1Before = Ring1();
        SetTail(tail);

        var error = Assert.Throws<SharedRingCorruptException>(() => consumer.Read(new byte[4 * Capacity]));

        Assert.Contains("tail", error.Message, StringComparison.Ordinal);
        Assert.Equal(ring1Before, Ring1());
    }

    [Fact]
    public void Read_TailMovesBack_Fails()
    {
        var producer = _segment.GetRing(0, TimeSpan.Zero);
        var consumer = _segment.GetRing(0, TimeSpan.Zero);
        producer.Write(new byte[100]);
        Assert.Equal(100, consumer.Read(new byte[60]) + consumer.Read(new byte[40]));
        SetTail(50);

        Assert.Throws<SharedRingCorruptException>(() => consumer.Read(new byte[10]));
    }

    [Fact]
    public void Read_AfterCorruption_KeepsFailing()
    {
        var consumer = _segment.GetRing(0, TimeSpan.Zero);
        SetTail(-1);
        Assert.Throws<SharedRingCorruptException>(() => consumer.Read(new byte[10]));
        SetTail(0);

        Assert.Throws<SharedRingCorruptException>(() => consumer.Read(new byte[10]));
    }

    [Theory]
    [InlineData(10 * Capacity)] // ahead of the tail: would claim more than a ring of free space
    [InlineData(-5 * Capacity)] // more than a ring behind the tail
    public void Write_HeadOutOfRange_FailsWithoutWritingOutsideTheRing(long head)
    {
        var producer = _segment.GetRing(0, TimeSpan.Zero);
        var ring1Before = Ring1();
        SetHead(head);
        var source = new byte[3 * Capacity];
        Array.Fill(source, (byte)0xAB);

        var error = Assert.Throws<SharedRingCorruptException>(() => producer.Write(source));

        Assert.Contains("head", error.Message, StringComparison.Ordinal);
        Assert.Equal(ring1Before, Ring1());
    }

    [Fact]
    public void Write_HeadMovesBack_Fails()
    {
        var producer = _segment.GetRing(0, TimeSpan.Zero);
        var consumer = _segment.GetRing(0, TimeSpan.Zero);
        producer.Write(new byte[Capacity]);
        Assert.Equal(Capacity, consumer.Read(new byte[Capacity]));
        producer.Write(new byte[10]);
        SetHead(0);

        Assert.Throws<SharedRingCorruptException>(() => producer.Write(new byte[10]));
    }

    [Fact]
    public async Task Write_HeadCorruptedWhileWaitingForSpace_FailsInsteadOfWaiting()
    {
        var producer = _segment.GetRing(0, TimeSpan.Zero);
        producer.Write(new byte[Capacity]);
        var writing = Task.Run(() => producer.Write(new byte[1]));
        await Task.Yield();
        SetHead(2 * Capacity);
        // The producer may sleep on the space futex; wake it as an honest consumer would.
        WakeProducer();

        await Assert.ThrowsAsync<SharedRingCorruptException>(() => writing.DefaultTimeout());
    }
}
