using CsCheck;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Rpc.Cli.Tests.Protos;

namespace Rpc.Cli.Tests;

/// <summary>Random <see cref="Rich"/> messages: each field set or left alone, with edge values (NaN, negatives, unknown enum numbers, non-ASCII text).</summary>
internal static class RichGen
{
    // First: the static fields below are built in order and use it.
    private static readonly Action<Rich> Nothing = _ => { };

    private static readonly Gen<string> Text = Gen.Char[" abcXYZ019\"\\\n\té€中ß"].Array[0, 12].Select(c => new string(c));
    private static readonly Gen<Color> AnyColor = Gen.Int[0, 4].Select(i => (Color)i); // 3 and 4 are numbers no name has.
    private static readonly Gen<ByteString> Bytes = Gen.Byte.Array[0, 12].Select(ByteString.CopyFrom);

    private static readonly Gen<Inner> InnerGen = Gen.Select(Gen.Int, Text, Gen.Long.Array[0, 4], AnyColor,
        (a, s, ids, color) => new Inner { A = a, S = s, Ids = { ids }, Color = color });

    private static readonly Gen<Timestamp> TimestampGen = Gen.Select(Gen.Long[-62135596800, 253402300799], Gen.Int[0, 999999999],
        (s, n) => new Timestamp { Seconds = s, Nanos = n });

    private static readonly Gen<Value> ValueGen = Gen.OneOf(
        Gen.Double[-1e6, 1e6].Select(Value.ForNumber),
        Text.Select(Value.ForString),
        Gen.Bool.Select(Value.ForBool),
        Gen.Const(0).Select(_ => Value.ForNull()));

    private static readonly Gen<Rich> Shallow = All(
        Set(Gen.Int, (r, v) => r.I32 = v),
        Set(Gen.Long, (r, v) => r.I64 = v),
        Set(Gen.UInt, (r, v) => r.U32 = v),
        Set(Gen.ULong, (r, v) => r.U64 = v),
        Set(Gen.Int, (r, v) => r.S32 = v),
        Set(Gen.Long, (r, v) => r.S64 = v),
        Set(Gen.UInt, (r, v) => r.F32 = v),
        Set(Gen.ULong, (r, v) => r.F64 = v),
        Set(Gen.Int, (r, v) => r.Sf32 = v),
        Set(Gen.Long, (r, v) => r.Sf64 = v),
        Set(Gen.Float, (r, v) => r.Fl = v),
        Set(Gen.Double, (r, v) => r.Db = v),
        Set(Gen.Bool, (r, v) => r.B = v),
        Set(Text, (r, v) => r.Str = v),
        Set(Bytes, (r, v) => r.By = v),
        Set(AnyColor, (r, v) => r.Color = v),
        Set(Gen.Int[-2, 2], (r, v) => r.OptI32 = v),
        Set(Text, (r, v) => r.OptStr = v),
        Set(InnerGen, (r, v) => r.Inner = v),
        Set(Gen.Int.Array[0, 5], (r, v) => r.PackedI32.Add(v)),
        Set(Gen.Int.Array[0, 5], (r, v) => r.UnpackedI32.Add(v)),
        Set(Gen.Double.Array[0, 5], (r, v) => r.PackedDb.Add(v)),
        Set(Text.Array[0, 4], (r, v) => r.Strs.Add(v)),
        Set(InnerGen.Array[0, 3], (r, v) => r.Inners.Add(v)),
        Set(AnyColor.Array[0, 4], (r, v) => r.Colors.Add(v)),
        Set(Gen.Long.Array[0, 4], (r, v) => r.UnpackedS64.Add(v)),
        Set(Gen.Select(Text, Gen.Int, (k, v) => (k, v)).Array[0, 4], (r, v) => { foreach (var (k, x) in v) { r.StrMap[k] = x; } }),
        Set(Gen.Select(Gen.Long[-3, 3], InnerGen, (k, v) => (k, v)).Array[0, 3], (r, v) => { foreach (var (k, x) in v) { r.InnerMap[k] = x; } }),
        Set(Gen.Select(Gen.Bool, Text, (k, v) => (k, v)).Array[0, 3], (r, v) => { foreach (var (k, x) in v) { r.BoolMap[k] = x; } }),
        Set(Gen.Select(Gen.UInt, AnyColor, (k, v) => (k, v)).Array[0, 3], (r, v) => { foreach (var (k, x) in v) { r.EnumMap[k] = x; } }),
        Set(Gen.Int[0, 3], Text, InnerGen, Gen.Long, (r, which, s, inner, l) =>
        {
            switch (which)
            {
                case 1: r.OneStr = s; break;
                case 2: r.OneInner = inner; break;
                case 3: r.OneI64 = l; break;
                default: break;
            }
        }),
        Set(TimestampGen, (r, v) => r.Ts = v),
        Set(Gen.Select(Gen.Long[0, 315576000000], Gen.Int[0, 999999999], (s, n) => new Duration { Seconds = s, Nanos = n }), (r, v) => r.Dur = v),
        Set(Gen.Int, (r, v) => r.WI32 = v),
        Set(Text, (r, v) => r.WStr = v),
        Set(Gen.Select(Gen.Char['a', 'z'].Array[1, 5].Select(c => new string(c)), ValueGen, (k, v) => (k, v)).Array[0, 3],
            (r, v) => { r.St = new Struct(); foreach (var (k, x) in v) { r.St.Fields[k] = x; } }),
        Set(ValueGen, (r, v) => r.Val = v),
        Set(Gen.Char['a', 'z'].Array[1, 5].Select(c => new string(c)).Array[0, 3], (r, v) => r.Mask = new FieldMask { Paths = { v } }),
        Set(TimestampGen.Array[0, 3], (r, v) => r.Tss.Add(v)));

    /// <summary>A message whose <c>recursive</c> field may hold another.</summary>
    public static readonly Gen<Rich> Messages = Gen.Select(Shallow, Shallow, Gen.Bool, (outer, inner, nest) =>
    {
        if (nest)
        {
            outer.Recursive = inner;
        }

        return outer;
    });

    private static Gen<Action<Rich>> Set<T>(Gen<T> values, Action<Rich, T> set) =>
        Gen.Select(Gen.Int[0, 2], values, (use, v) => use == 0 ? Nothing : r => set(r, v));

    private static Gen<Action<Rich>> Set<T1, T2, T3, T4>(Gen<T1> a, Gen<T2> b, Gen<T3> c, Gen<T4> d, Action<Rich, T1, T2, T3, T4> set) =>
        Gen.Select(a, b, c, d, (x, y, z, w) => (Action<Rich>)(r => set(r, x, y, z, w)));

    private static Gen<Rich> All(params Gen<Action<Rich>>[] setters) =>
        setters.Aggregate(Gen.Const(Nothing), (all, next) => Gen.Select(all, next, (x, y) => x + y))
            .Select(set =>
            {
                var message = new Rich();
                set(message);
                return message;
            });
}
