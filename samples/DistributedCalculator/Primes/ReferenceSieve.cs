using System.Collections;

namespace DistributedCalculator.Primes;

/// <summary>
/// The check: the same count and sum, computed in this one process by a different sieve (odd
/// numbers only, one bit each, no segments), so a bug in the segmented sieve or in how the
/// coordinator splits and adds cannot also hide in the answer it is checked against.
/// </summary>
public static class ReferenceSieve
{
    /// <summary>Highest limit checked: 62.5 MB of bits.</summary>
    public const long MaxLimit = 1_000_000_000;

    /// <summary>π(10^k): the number of primes below 10^k, a second check when the limit is a power of ten.</summary>
    public static readonly IReadOnlyDictionary<long, long> KnownCounts = new Dictionary<long, long>
    {
        [10] = 4,
        [100] = 25,
        [1_000] = 168,
        [10_000] = 1_229,
        [100_000] = 9_592,
        [1_000_000] = 78_498,
        [10_000_000] = 664_579,
        [100_000_000] = 5_761_455,
        [1_000_000_000] = 50_847_534,
    };

    /// <summary>The primes below <paramref name="limit"/>.</summary>
    public static PrimeTally Below(long limit)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxLimit);
        if (limit <= 2)
        {
            return default;
        }

        // Bit i stands for the odd number 2i + 1.
        var oddComposite = new BitArray(checked((int)((limit + 1) / 2)));
        oddComposite[0] = true; // 1
        for (long n = 3; n * n < limit; n += 2)
        {
            if (oddComposite[(int)(n / 2)])
            {
                continue;
            }

            for (var multiple = n * n; multiple < limit; multiple += 2 * n)
            {
                oddComposite[(int)(multiple / 2)] = true;
            }
        }

        long count = 1, sum = 2;
        for (long n = 3; n < limit; n += 2)
        {
            if (!oddComposite[(int)(n / 2)])
            {
                count++;
                sum += n;
            }
        }

        return new PrimeTally(count, sum);
    }
}
