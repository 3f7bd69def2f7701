//! Plane-independent geometry: points, rectangles and mask shapes in pixel or normalised units.

/// A point. Units depend on context: normalised (0..1 of the frame) in config, pixels elsewhere.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

impl Point {
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }
}

/// An axis-aligned rectangle `[x0, x1) × [y0, y1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl Rect {
    pub const fn new(x0: f32, y0: f32, x1: f32, y1: f32) -> Self {
        Self { x0, y0, x1, y1 }
    }

    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> f32 {
        self.y1 - self.y0
    }

    pub fn centre(&self) -> Point {
        Point::new((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)
    }

    /// Whether `other` lies wholly inside (edges may touch).
    pub fn contains(&self, other: &Rect) -> bool {
        self.x0 <= other.x0 && self.y0 <= other.y0 && self.x1 >= other.x1 && self.y1 >= other.y1
    }

    /// Whether `p` lies inside (edges included).
    pub fn contains_point(&self, p: Point) -> bool {
        self.x0 <= p.x && p.x <= self.x1 && self.y0 <= p.y && p.y <= self.y1
    }

    /// The share of this box's area that lies inside `other` (0 for an empty box).
    pub fn share_inside(&self, other: &Rect) -> f32 {
        let w = (self.x1.min(other.x1) - self.x0.max(other.x0)).max(0.0);
        let h = (self.y1.min(other.y1) - self.y0.max(other.y0)).max(0.0);
        let area = self.width() * self.height();
        if area > 0.0 { w * h / area } else { 0.0 }
    }

    /// Whether the two share some area (touching edges do not).
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }
}

/// The outline of one region to redact, in luma pixel coordinates of the frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// An axis-aligned box.
    Rect(Rect),
    /// The ellipse inscribed in the box.
    Ellipse(Rect),
    /// A closed polygon (≥ 3 vertices, any winding, may be concave; even-odd fill).
    Polygon(Vec<Point>),
}

impl Shape {
    /// The bounding box of the shape (not clipped to any frame).
    pub fn bounds(&self) -> Rect {
        match self {
            Shape::Rect(r) | Shape::Ellipse(r) => *r,
            Shape::Polygon(pts) => {
                let mut r = Rect::new(f32::INFINITY, f32::INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY);
                for p in pts {
                    r.x0 = r.x0.min(p.x);
                    r.y0 = r.y0.min(p.y);
                    r.x1 = r.x1.max(p.x);
                    r.y1 = r.y1.max(p.y);
                }
                r
            }
        }
    }
}

/// The point of a box that stands for where a person is, for line crossings and zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The box centre: for faces and heads.
    Center,
    /// The middle of the bottom edge, the feet of a person box: for lines drawn on the floor.
    BottomCenter,
}

impl Anchor {
    /// Its name in configs, on the command line and in the API.
    pub fn name(self) -> &'static str {
        match self {
            Anchor::Center => "center",
            Anchor::BottomCenter => "bottom",
        }
    }

    /// The anchor named `text` (`bottom` or `center`).
    pub fn from_name(text: &str) -> Option<Self> {
        [Anchor::BottomCenter, Anchor::Center].into_iter().find(|a| a.name() == text)
    }

    /// This anchor's point of `rect`.
    pub fn point(self, rect: &Rect) -> Point {
        let cx = (rect.x0 + rect.x1) / 2.0;
        match self {
            Anchor::Center => Point::new(cx, (rect.y0 + rect.y1) / 2.0),
            Anchor::BottomCenter => Point::new(cx, rect.y1),
        }
    }
}
