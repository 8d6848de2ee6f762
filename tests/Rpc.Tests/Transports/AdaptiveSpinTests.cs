using Rpc.Transports.Internal;
using Xunit;

namespace Rpc.Tests.Transports;

public sealed class AdaptiveSpinTests
{
    private const long Most = 50_000;

    [Fact]
    public void New_SpinsTheMost()
    {
        Assert.Equal(Most, new AdaptiveSpin(Most).Budget);
        Assert.Equal(0, new AdaptiveSpin(0).Budget);
    }

    [Fact]
    public void FarMisses_HalveDownToTheFloor_NeverBelow()
    {
        var spin = new AdaptiveSpin(Most);

        spin.Missed(10 * Most);
        Assert.Equal(Most / 2, spin.Budget);
        for (var i = 0; i < 20; i++)
        {
            spin.Missed(1_000 * Most);
        }

        Assert.Equal(spin.Floor, spin.Budget);
        Assert.True(spin.Floor > 0);
    }

    [Fact]
    public void NearMiss_AfterShrinking_RestoresTheMost()
    {
        var spin = new AdaptiveSpin(Most);
        for (var i = 0; i < 5; i++)
        {
            spin.Missed(10 * Most);
        }

        // The reply came within what the longest spin would have caught.
        spin.Missed(Most);

        Assert.Equal(Most, spin.Budget);
    }

    [Fact]
    public void MissWithinAFewSpins_WakeUpIncluded_RestoresTheMost()
    {
        var spin = new AdaptiveSpin(Most);
        for (var i = 0; i < 5; i++)
        {
            spin.Missed(10 * Most);
        }

        // A reply that came soon after the spin, measured with the sleeping thread's wake-up.
        spin.Missed(3 * Most);

        Assert.Equal(Most, spin.Budget);
    }
}
