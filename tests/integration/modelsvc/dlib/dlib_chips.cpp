// Reference face chips from dlib's own C++ (the test oracle for modelsvc.dlib_align).
// Usage: dlib_chips IMAGES.rgb COUNT HEIGHT WIDTH LANDMARKS.txt CHIPS.out SIZE PADDING
//   IMAGES.rgb: COUNT RGB HEIGHT x WIDTH images, row-major, 3 bytes per pixel.
//   LANDMARKS.txt: one line per image with the 5 landmarks as x y pairs.
//   Writes COUNT SIZE x SIZE RGB chips (get_face_chip_details + extract_image_chip).
#include <dlib/image_processing.h>
#include <dlib/image_transforms.h>

#include <cstdio>
#include <fstream>
#include <iostream>

using namespace dlib;

int main(int argc, char** argv) {
    if (argc < 9) {
        std::cerr << "usage: dlib_chips IMAGES COUNT H W LANDMARKS OUT SIZE PADDING\n";
        return 2;
    }
    const long count = std::atol(argv[2]), height = std::atol(argv[3]), width = std::atol(argv[4]);
    const unsigned long size = std::atol(argv[7]);
    const double padding = std::atof(argv[8]);
    std::ifstream in(argv[1], std::ios::binary), marks(argv[5]);
    std::ofstream out(argv[6], std::ios::binary);
    for (long n = 0; n < count; ++n) {
        matrix<rgb_pixel> image(height, width);
        for (long r = 0; r < height; ++r)
            for (long c = 0; c < width; ++c) {
                unsigned char rgb[3];
                in.read(reinterpret_cast<char*>(rgb), 3);
                image(r, c) = rgb_pixel(rgb[0], rgb[1], rgb[2]);
            }
        std::vector<point> parts(5);
        for (auto& part : parts) {
            long x, y;
            marks >> x >> y;
            part = point(x, y);
        }
        if (!in || !marks) {
            std::cerr << "the inputs are shorter than " << count << " images\n";
            return 1;
        }
        const full_object_detection shape(get_rect(image), parts);
        matrix<rgb_pixel> chip;
        extract_image_chip(image, get_face_chip_details(shape, size, padding), chip);
        for (long r = 0; r < chip.nr(); ++r)
            for (long c = 0; c < chip.nc(); ++c) {
                const unsigned char rgb[3] = {chip(r, c).red, chip(r, c).green, chip(r, c).blue};
                out.write(reinterpret_cast<const char*>(rgb), 3);
            }
    }
    return 0;
}
