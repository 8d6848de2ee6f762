namespace Rpc.Transports.Internal;

/// <summary>The bounds of a transport's spin before it sleeps, checked where the option is set.</summary>
internal static class SpinLimits
{
    /// <summary>Long enough to catch a local reply, short enough that an idle connection's last spin costs nothing worth measuring.</summary>
    public static readonly TimeSpan DefaultSpin = TimeSpan.FromMicroseconds(50);

    /// <summary>A spin this long is a busy wait, not a spin: refused.</summary>
    public static readonly TimeSpan MaxSpin = TimeSpan.FromMilliseconds(100);

    public static TimeSpan Check(TimeSpan value, string name)
    {
        if (value < TimeSpan.Zero || value > MaxSpin)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be from zero to {MaxSpin.TotalMilliseconds:0} ms.");
        }

        return value;
    }
}
